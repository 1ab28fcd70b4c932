"""The `person_events` table: every event a per-person store took, by event id and person.

Why its own module: the store (`store.py`) decides what to derive; this is how a batch's new
events are told from duplicates and stored (one `executemany`, each body encoded once), how
many each person had before (what the store's memory of them is checked against), and how a
person's stored history is read back, decoded, when it has to be folded whole. Queries go by
chunks of keys, so a batch of thousands of events costs a handful of statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from contracts import Envelope, decode, encode
from contracts.sealing import forget_erased
from projections.projection import StreamEvent
from projections.readmodel.database import Transaction

DDL = (
    "CREATE TABLE IF NOT EXISTS person_events ("
    " event_id TEXT PRIMARY KEY, person_key TEXT NOT NULL, stream_seq BIGINT NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS person_events_by_person ON person_events (person_key)",
)
_INSERT = (
    "INSERT INTO person_events (event_id, person_key, stream_seq, body)"
    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_CHUNK = 500
"""Keys per `IN (…)` query: well under SQLite's and PostgreSQL's parameter limits."""
_by_key = itemgetter(0)

History = Sequence[tuple[Any, Envelope]]
"""A person's events as (order key, envelope), sorted by the key."""


def store_new(
    tx: Transaction, events: Sequence[StreamEvent], after: int
) -> tuple[dict[str, list[Envelope]], dict[str, int]]:
    """Store the events past position `after` whose ids are not stored yet (the first of a
    repeated id). Returns them by person, and how many events each of those people had before."""
    fresh: dict[str, StreamEvent] = {}
    for seq, envelope in events:
        if seq > after:
            fresh.setdefault(str(envelope.event_id), StreamEvent(seq, envelope))
    stored = {
        row[0]
        for ids in _chunks(list(fresh))
        for row in tx.execute(
            f"SELECT event_id FROM person_events WHERE event_id IN ({_marks(ids)})", ids
        ).fetchall()
    }
    new = {event_id: event for event_id, event in fresh.items() if event_id not in stored}
    by_person: dict[str, list[Envelope]] = {}
    for _, envelope in new.values():
        by_person.setdefault(envelope.person_key, []).append(envelope)
    counts = {
        person: int(count)
        for keys in _chunks(sorted(by_person))
        for person, count in tx.execute(
            "SELECT person_key, COUNT(*) FROM person_events"
            f" WHERE person_key IN ({_marks(keys)}) GROUP BY person_key",
            keys,
        ).fetchall()
    }
    tx.executemany(
        _INSERT,
        [
            (event_id, envelope.person_key, seq, encode(envelope).decode())
            for event_id, (seq, envelope) in new.items()
        ],
    )
    return by_person, counts


def in_order(events: Iterable[Envelope], order: Any) -> History:
    """`events` with their order keys, sorted by them."""
    return sorted(((order(e), e) for e in events), key=_by_key)


def stored_histories(
    tx: Transaction, people: Iterable[str], just_stored: Mapping[str, Sequence[Envelope]],
    order: Any,
) -> dict[str, History]:
    """The stored events of `people`, in order: decoded, or the envelopes `just_stored`."""
    chosen = sorted(people)
    fresh = {str(e.event_id): e for person in chosen for e in just_stored.get(person, ())}
    found: dict[str, list[Envelope]] = {person: [] for person in chosen}
    for keys in _chunks(chosen):
        rows = tx.execute(
            "SELECT person_key, event_id, body FROM person_events"
            f" WHERE person_key IN ({_marks(keys)})",
            keys,
        ).fetchall()
        for person, event_id, body in rows:
            envelope = fresh.get(event_id)
            found[person].append(decode(body) if envelope is None else envelope)
    return {person: in_order(events, order) for person, events in found.items()}


def withhold_erased(tx: Transaction, history: Sequence[Envelope]) -> list[Envelope]:
    """Rewrite an erased person's stored events without their personal fields."""
    forgotten = forget_erased(history)
    tx.executemany(
        "UPDATE person_events SET body = ? WHERE event_id = ?",
        [
            (encode(after).decode(), str(after.event_id))
            for before, after in zip(history, forgotten, strict=True)
            if after is not before
        ],
    )
    return forgotten


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def _marks(keys: Sequence[str]) -> str:
    return ", ".join("?" * len(keys))
