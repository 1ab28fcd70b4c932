"""Does a live read model equal a from-scratch rebuild of the history it claims to reflect?

The live store is read in one transaction (its tables and its position N); the projection is
rebuilt from SEND_EVENTS[1..N] into a fresh store; every table is compared by digest
(`digest.py`), and a table that differs is explained by the rows only one side has.

How the first event where they diverge is found (pragmatic, and honest about its limits):

1. The event log. Every per-person read model keeps the events it applied, with their stream
   sequence (`person_events`). If the logs differ, the lowest stream sequence among the
   differing log rows is the first divergent event: an event the live store never applied,
   holds with other bytes, or holds although the stream does not.
2. The facts. If both applied the same events but derived different rows, the divergence is in
   derivation. For each person whose rows differ, their events are replayed one at a time into
   a scratch store (facts are per person, so a person's rows depend only on their events):
   - if the live rows equal the rows after their first k events, event k+1 is the first whose
     effect the live store lacks;
   - otherwise no prefix explains the live rows (derived by other code, e.g. a derivation
     change without a version bump, or edited by hand): the event that first derives a row
     with the key of a disputed row is named (the one that created the row they disagree on),
     or the person's first event if no such row ever exists in the rebuild.
   The earliest such event over the affected people (at most `PEOPLE_EXAMINED`) is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from nats.aio.client import Client

from contracts import decode
from projections.audit.digest import (
    EVENT_LOG_TABLE,
    POSITION_TABLE,
    Contents,
    TableDifference,
    differences,
    store_contents,
)
from projections.reading.projection import Projection, StreamEvent
from projections.reading.rebuild import rebuild

PEOPLE_EXAMINED = 5
REBUILD_BATCH = 2_000


@dataclass(frozen=True)
class Divergence:
    stream_seq: int
    event_id: str | None
    event_type: str | None
    source_org: str | None
    person_key: str | None
    why: str

    def __str__(self) -> str:
        return (
            f"first divergent event: stream sequence {self.stream_seq}, event "
            f"{self.event_id or '?'} ({self.event_type or '?'} from {self.source_org or '?'}, "
            f"person {self.person_key or '?'}): {self.why}"
        )


@dataclass(frozen=True)
class ProjectionCheck:
    projection: str
    position: int
    """The live store's applied stream sequence, to which the rebuild was taken."""
    digests: dict[str, str]
    differences: list[TableDifference]
    divergence: Divergence | None

    @property
    def agrees(self) -> bool:
        return not self.differences


class LiveStoreMissing(FileNotFoundError):
    """Verify compares with a live store; it must not create an empty one by accident."""


async def verify_projection(
    nc: Client, projection: Projection, live_location: Path | str, workdir: Path
) -> ProjectionCheck:
    """Rebuild `projection` to the live store's position in `workdir` and compare the two."""
    if isinstance(live_location, Path) and not live_location.exists():
        raise LiveStoreMissing(
            f"no live store for projection {projection.name} at {live_location}: "
            f"pass --store {projection.name}=PATH"
        )
    live = await asyncio.to_thread(_contents_at, projection, live_location)
    store = projection.open_store(workdir / f"{projection.name}.sqlite")
    try:
        report = await rebuild(
            nc, store, stop_seq=live.position, batch_size=REBUILD_BATCH, spill_dir=workdir
        )
        if report.position < live.position:
            raise ValueError(
                f"live {projection.name} store is at stream sequence {live.position} but "
                f"SEND_EVENTS ends at {report.position}: the store is not from this stream"
            )
        rebuilt = await asyncio.to_thread(store_contents, store)
    finally:
        store.close()
    found = differences(live, rebuilt)
    divergence = None
    if found:
        divergence = await asyncio.to_thread(
            first_divergence, projection, found, live, rebuilt, workdir
        )
    digests = {name: table.digest for name, table in live.tables.items()}
    return ProjectionCheck(projection.name, live.position, digests, found, divergence)


def _contents_at(projection: Projection, location: Path | str) -> Contents:
    store = projection.open_store(location)
    try:
        return store_contents(store)
    finally:
        store.close()


def first_divergence(
    projection: Projection,
    found: Sequence[TableDifference],
    live: Contents,
    rebuilt: Contents,
    workdir: Path,
) -> Divergence | None:
    by_table = {d.table: d for d in found}
    if EVENT_LOG_TABLE in by_table:
        return _event_log_divergence(by_table[EVENT_LOG_TABLE])
    people = sorted({
        row["person_key"]
        for d in found if d.table != POSITION_TABLE
        for row in (*d.only_live, *d.only_rebuilt) if "person_key" in row
    })
    candidates = [
        _person_divergence(projection, person, found, live, rebuilt, workdir)
        for person in people[:PEOPLE_EXAMINED]
    ]
    named = [c for c in candidates if c is not None]
    return min(named, key=lambda d: d.stream_seq) if named else None


def _event_log_divergence(log: TableDifference) -> Divergence:
    rows = [(row, "rebuilt") for row in log.only_rebuilt] + [(row, "live") for row in log.only_live]
    row, side = min(rows, key=lambda item: item[0]["stream_seq"])
    other = log.only_live if side == "rebuilt" else log.only_rebuilt
    if any(r["event_id"] == row["event_id"] for r in other):
        why = "the live read model holds this event with different bytes or stream sequence"
    elif side == "rebuilt":
        why = "the live read model never applied this event"
    else:
        why = "the live read model holds this event, which the stream does not have there"
    body = _loose(row["body"])
    return Divergence(row["stream_seq"], row["event_id"], body.get("type"),
                      body.get("source_org"), row["person_key"], why)


def _loose(body: Any) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


Keys = dict[str, tuple[str, ...]]
"""Fact table name -> its primary key columns."""


def _person_state(contents: Contents, person: str, keys: Keys) -> tuple[list[bytes], set[bytes]]:
    """One person's fact rows (canonical, sorted) and the keys of those rows."""
    rows: list[bytes] = []
    row_keys: set[bytes] = set()
    for name, key in keys.items():
        table = contents.tables[name]
        if "person_key" not in table.columns:
            continue
        at = table.columns.index("person_key")
        key_at = [table.columns.index(column) for column in key]
        for row in table.rows:
            if row[at] == person:
                rows.append(orjson.dumps([name, *row]))
                row_keys.add(orjson.dumps([name, *(row[i] for i in key_at)]))
    return sorted(rows), row_keys


def _disputed_keys(found: Sequence[TableDifference], person: str, keys: Keys) -> set[bytes]:
    """Keys of the person's rows that only one side has: the rows the two disagree on."""
    return {
        orjson.dumps([d.table, *(row[column] for column in keys[d.table])])
        for d in found if d.table in keys
        for row in (*d.only_live, *d.only_rebuilt) if row.get("person_key") == person
    }


def _person_divergence(
    projection: Projection,
    person: str,
    found: Sequence[TableDifference],
    live: Contents,
    rebuilt: Contents,
    workdir: Path,
) -> Divergence | None:
    """Replay one person's events one by one and see where the live rows part company."""
    log = rebuilt.tables[EVENT_LOG_TABLE]
    at = {column: i for i, column in enumerate(log.columns)}
    history = sorted(
        (row for row in log.rows if row[at["person_key"]] == person),
        key=lambda row: row[at["stream_seq"]],
    )
    if not history:
        return None
    keys, states = _prefix_states(projection, person, history, at, workdir)
    live_rows, _ = _person_state(live, person, keys)
    matched = [k for k, (rows, _) in enumerate(states) if rows == live_rows]
    if matched and matched[-1] == len(history):
        return None
    if matched:
        k = matched[-1]
        why = (f"the live rows for this person are what their first {k} event(s) derive; "
               "this is the first of their events whose effect the live read model lacks")
    else:
        disputed = _disputed_keys(found, person, keys)
        k = next((k - 1 for k, (_, held) in enumerate(states) if k and disputed & held), 0)
        why = ("no prefix of this person's events derives the live rows (derived by other code "
               "or edited); this is the event that first derives a row the two disagree on")
    row = history[k]
    body = _loose(row[at["body"]])
    return Divergence(row[at["stream_seq"]], row[at["event_id"]], body.get("type"),
                      body.get("source_org"), person, why)


def _prefix_states(
    projection: Projection,
    person: str,
    history: Sequence[tuple[Any, ...]],
    at: dict[str, int],
    workdir: Path,
) -> tuple[Keys, list[tuple[list[bytes], set[bytes]]]]:
    """The fact tables' keys, and the person's fact rows after each prefix (0..n events)."""
    store: Any = projection.open_store(workdir / f"person-{person}.sqlite")
    try:
        keys: Keys = {table.name: table.key for table in store.derivation.tables}
        states = [_person_state(store_contents(store), person, keys)]
        for row in history:
            store.apply_batch([StreamEvent(row[at["stream_seq"]], decode(row[at["body"]]))])
            states.append(_person_state(store_contents(store), person, keys))
        return keys, states
    finally:
        store.close()
