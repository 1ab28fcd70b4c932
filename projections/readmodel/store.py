"""A read model kept per person: each person's events, the facts derived from them, and the
stream position, written in one transaction per batch. The dataset and the tracker use it.

Why per person, re-derived from the whole history. Events reach the bus out of order across
organisations and may be duplicated or redelivered. Rather than make every fold step
commutative, the store keeps each person's events (deduplicated by event id) and whenever a
batch touches a person re-derives *all* of that person's facts from their full history, which
the derivation sorts into history order. So the stored facts of a person are, by construction,
`derive(their events)`, whatever order or how many times the events arrived. The cost is bounded
by one person's history (tens of events), not by the stream.

- `person_events`: every event seen, keyed by event id (a duplicate is stored once). It also lets
  a new derivation version re-derive every fact without replaying the stream.
- the derivation's fact tables: what the queries count.
- `projection_position`: the highest SEND_EVENTS sequence handled and the derivation version;
  it commits with the facts, so the two never disagree. Events at or below the position are a
  redelivery and change nothing.
- `partition_position`: the same, per partition, when N workers share the store
  (`projections.partitions`): each commits the highest sequence of *its* partition it handled,
  so a replacement worker resumes where the dead one committed. People are disjoint across
  partitions, so the workers' per-person writes never overlap.

Erasure. Events are stored as decoded, personal fields opened with the person's key. Once a
person's history holds `person.erased`, their stored events are rewritten with every personal
field withheld (`contracts.sealing.forget_erased`) and their facts re-derived from that, in the
same transaction: the live read model forgets the birth month and conditions, exactly as a
rebuild made after the erasure (no key left) decodes them, while facts that need no personal
field (plans, requests, referrals) stay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import Envelope, decode, encode
from contracts.sealing import erased_people, forget_erased
from projections.projection import StreamEvent
from projections.readmodel.database import Database, Transaction, open_database
from projections.readmodel.tables import FactTable

Derive = Callable[[str, Sequence[Envelope]], Mapping[str, Sequence[Any]]]
"""(person key, their events in any order) -> fact rows by table name. Pure."""

_META = (
    "CREATE TABLE IF NOT EXISTS projection_position ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, fold_version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS person_events ("
    " event_id TEXT PRIMARY KEY, person_key TEXT NOT NULL, stream_seq BIGINT NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS person_events_by_person ON person_events (person_key)",
    "CREATE TABLE IF NOT EXISTS partition_position ("
    " partition_name TEXT PRIMARY KEY, seq BIGINT NOT NULL)",
)
_NO_FACTS_YET = -1
DECODED_EVENTS_KEPT = 100_000
"""How many stored events `DecodedBodies` keeps decoded (whole people, least recently used out)."""


@dataclass(frozen=True)
class Derivation:
    """What a per-person read model derives: its tables, the pure function, and its version.

    Bump `version` whenever `derive` or the tables change: on open, the store then recreates
    the fact tables and re-derives everyone from the stored events.
    """

    tables: tuple[FactTable, ...]
    derive: Derive
    version: int

    def table(self, name: str) -> FactTable:
        return next(t for t in self.tables if t.name == name)


class Snapshot:
    """One consistent read of a store: its facts and the position they reflect."""

    def __init__(self, tx: Transaction, derivation: Derivation) -> None:
        self._tx = tx
        self._derivation = derivation

    def position(self) -> int:
        return int(self._tx.execute("SELECT seq FROM projection_position").fetchone()[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Portable SQL with `?` placeholders over the fact tables."""
        return list(self._tx.execute(sql, params).fetchall())

    def rows(self, table: str, where: str = "", params: Sequence[Any] = ()) -> list[Any]:
        """The fact rows of `table` (optionally `WHERE …`), as the derivation's dataclasses."""
        fact = self._derivation.table(table)
        sql = f"SELECT {fact.column_list} FROM {fact.name}{f' WHERE {where}' if where else ''}"
        return [fact.from_sql(row) for row in self._tx.execute(sql, params).fetchall()]

    def facts(self) -> dict[str, list[Any]]:
        """Every stored fact by table, sorted: for comparing with a from-scratch derivation."""
        return {t.name: sorted(self.rows(t.name), key=repr) for t in self._derivation.tables}


class DecodedBodies:
    """`decode(body)` remembered for the bodies this store keeps, per person, bounded (LRU).

    Why: re-deriving a person re-reads their whole stored history, and re-validating bodies the
    store wrote itself was a third of the projection's time. An entry is only ever reused for
    the *same* event id with the *same* stored body text, so it is exactly what `decode(body)`
    gives (envelopes are frozen): a body rewritten by erasure, or by another writer, or a
    rolled-back transaction cannot make it stale; it just misses. An erased person's entries are
    dropped (`forget`), so their personal fields do not linger in memory either.
    """

    def __init__(self, max_events: int = DECODED_EVENTS_KEPT) -> None:
        self.max_events = max_events
        self._people: OrderedDict[str, dict[str, tuple[str, Envelope]]] = OrderedDict()
        self._events = 0
        self._lock = threading.Lock()

    def history(
        self,
        person_key: str,
        rows: Sequence[tuple[str, str]],
        fresh: Mapping[str, Envelope],
        written: Mapping[str, str],
    ) -> list[Envelope]:
        """The envelopes of `rows` (event id, stored body): from `fresh`, remembered, or decoded.

        `written` holds the bodies this batch stored (`encode(fresh event)`): a fresh envelope is
        remembered for its body only if that is the body stored, since it is what decoding the
        body gives back (the codec round-trips); a redelivered id keeps its first stored body.
        """
        with self._lock:
            known = self._people.get(person_key, {})
        kept: dict[str, tuple[str, Envelope]] = {}
        history: list[Envelope] = []
        for event_id, body in rows:
            envelope = fresh.get(event_id)
            if envelope is None:
                hit = known.get(event_id)
                envelope = hit[1] if hit is not None and hit[0] == body else decode(body)
                kept[event_id] = (body, envelope)
            elif written.get(event_id) == body:
                kept[event_id] = (body, envelope)
            history.append(envelope)
        self._keep(person_key, kept)
        return history

    def forget(self, person_key: str) -> None:
        self._keep(person_key, {})

    def __len__(self) -> int:
        return self._events

    def _keep(self, person_key: str, kept: dict[str, tuple[str, Envelope]]) -> None:
        with self._lock:
            previous = self._people.pop(person_key, None)
            if previous is not None:
                self._events -= len(previous)
            if not kept or len(kept) > self.max_events:
                return
            self._people[person_key] = kept
            self._events += len(kept)
            while self._events > self.max_events:
                _, dropped = self._people.popitem(last=False)
                self._events -= len(dropped)


class PersonHistoryStore:
    """One writer (the runner, one batch at a time) and any number of readers (the API)."""

    def __init__(self, db: Database, derivation: Derivation) -> None:
        self.db = db
        self.derivation = derivation
        self.decoded = DecodedBodies()
        with db.write() as tx:
            for statement in _META:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO projection_position (id, seq, fold_version) VALUES (1, 0, ?)"
                " ON CONFLICT DO NOTHING",
                (_NO_FACTS_YET,),
            )
            (version,) = tx.execute("SELECT fold_version FROM projection_position").fetchone()
            if version != derivation.version:
                self._rederive_everyone(tx)

    @classmethod
    def open(
        cls, location: Path | str, derivation: Derivation, *, schema: str
    ) -> PersonHistoryStore:
        """At a SQLite path, or in `schema` of the PostgreSQL database a DSN names."""
        return cls(open_database(location, schema=schema), derivation)

    def close(self) -> None:
        self.db.close()

    def position(self, partition: str | None = None) -> int:
        """The committed position: of the whole stream, or of one `partition` (0 if none yet)."""
        if partition is None:
            with self.snapshot() as snapshot:
                return snapshot.position()
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT seq FROM partition_position WHERE partition_name = ?", (partition,)
            ).fetchone()
        return int(row[0]) if row else 0

    def apply_batch(
        self,
        events: Sequence[StreamEvent],
        position: int | None = None,
        partition: str | None = None,
    ) -> int:
        """`ProjectionStore.apply_batch`, against `partition`'s own position when given."""
        target = max((seq for seq, _ in events), default=0) if position is None else position
        with self.db.write() as tx:
            current = self._locked_position(tx, partition)
            fresh = {str(e.event_id): e for seq, e in events if seq > current}
            touched: set[str] = set()
            written: dict[str, str] = {}
            for seq, envelope in events:
                if seq <= current:
                    continue
                event_id, body = str(envelope.event_id), encode(envelope).decode()
                inserted = tx.execute(
                    "INSERT INTO person_events (event_id, person_key, stream_seq, body)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (event_id, envelope.person_key, seq, body),
                ).rowcount
                if inserted:
                    touched.add(envelope.person_key)
                    written[event_id] = body
            for person_key in sorted(touched):
                self._rederive(tx, person_key, fresh, written)
            new_position = max(current, target)
            if partition is None:
                tx.execute("UPDATE projection_position SET seq = ?", (new_position,))
            else:
                tx.execute(
                    "UPDATE partition_position SET seq = ? WHERE partition_name = ?",
                    (new_position, partition),
                )
        return new_position

    def _locked_position(self, tx: Transaction, partition: str | None) -> int:
        if partition is None:
            sql, params = "SELECT seq FROM projection_position", ()
        else:
            tx.execute(
                "INSERT INTO partition_position (partition_name, seq) VALUES (?, 0)"
                " ON CONFLICT DO NOTHING",
                (partition,),
            )
            sql, params = "SELECT seq FROM partition_position WHERE partition_name = ?", (
                partition,
            )
        return int(tx.execute(f"{sql}{self.db.lock_position}", params).fetchone()[0])

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent read of facts and position (one read transaction), for the queries."""
        with self.db.read() as tx:
            yield Snapshot(tx, self.derivation)

    def facts(self) -> dict[str, list[Any]]:
        with self.snapshot() as snapshot:
            return snapshot.facts()

    def _rederive(
        self,
        tx: Transaction,
        person_key: str,
        decoded: Mapping[str, Envelope],
        written: Mapping[str, str] | None = None,
    ) -> None:
        rows = tx.execute(
            "SELECT event_id, body FROM person_events WHERE person_key = ?", (person_key,)
        ).fetchall()
        history = self.decoded.history(person_key, rows, decoded, written or {})
        if erased_people(history):
            self.decoded.forget(person_key)
            history = self._forget(tx, history)
        facts = self.derivation.derive(person_key, history)
        for table in self.derivation.tables:
            tx.execute(f"DELETE FROM {table.name} WHERE person_key = ?", (person_key,))
            tx.executemany(table.insert, [table.to_sql(r) for r in facts.get(table.name, ())])

    @staticmethod
    def _forget(tx: Transaction, history: Sequence[Envelope]) -> list[Envelope]:
        """Rewrite an erased person's stored events without their personal fields."""
        forgotten = forget_erased(history)
        for before, after in zip(history, forgotten, strict=True):
            if after is not before:
                tx.execute(
                    "UPDATE person_events SET body = ? WHERE event_id = ?",
                    (encode(after).decode(), str(after.event_id)),
                )
        return forgotten

    def _rederive_everyone(self, tx: Transaction) -> None:
        for table in self.derivation.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table.name}")
            for statement in table.ddl():
                tx.execute(statement)
        people = [row[0] for row in tx.execute("SELECT DISTINCT person_key FROM person_events")]
        for person_key in people:
            self._rederive(tx, person_key, {})
        tx.execute("UPDATE projection_position SET fold_version = ?", (self.derivation.version,))
