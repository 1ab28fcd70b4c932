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

import orjson

from contracts import Envelope, decode, encode
from contracts.sealing import forget_erased
from projections.reading.projection import StreamEvent
from projections.readmodel.database import Transaction
from runtime.ownership import OPENS, Opened, OpenedReferences

TABLE = "person_events"
COLUMNS = ("event_id", "person_key", "stream_seq", "body")
INDEX_DDL = (
    ("person_events_by_person",
     "CREATE INDEX IF NOT EXISTS person_events_by_person ON person_events (person_key)"),
)
"""(name, statement) of the secondary indexes: a bulk load builds them after loading."""
DDL = (
    "CREATE TABLE IF NOT EXISTS person_events ("
    " event_id TEXT PRIMARY KEY, person_key TEXT NOT NULL, stream_seq BIGINT NOT NULL,"
    " body TEXT NOT NULL)",
    *(create for _, create in INDEX_DDL),
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
    repeated id). Returns them by person, and how many events each of those people had before.

    The ids are looked up before inserting: measured, that costs less than inserting first and
    undoing the insert (a savepoint) when some were stored already, since a savepoint makes
    SQLite copy every page the insert touches to a statement journal."""
    fresh: dict[str, tuple[int, Envelope]] = {}
    for seq, envelope in events:
        if seq > after:
            event_id = str(envelope.event_id)
            if event_id not in fresh:
                fresh[event_id] = (seq, envelope)
    if not fresh:
        return {}, {}
    stored = _stored_ids(tx, list(fresh))
    if stored:
        fresh = {event_id: new for event_id, new in fresh.items() if event_id not in stored}
    by_person = _by_person(fresh.values())
    counts = _counts(tx, by_person)
    tx.executemany(
        _INSERT,
        [
            (event_id, envelope.person_key, seq, encode(envelope).decode())
            for event_id, (seq, envelope) in fresh.items()
        ],
    )
    return by_person, counts


def _by_person(events: Iterable[tuple[int, Envelope]]) -> dict[str, list[Envelope]]:
    by_person: dict[str, list[Envelope]] = {}
    for _, envelope in events:
        person = envelope.person_key
        if person in by_person:
            by_person[person].append(envelope)
        else:
            by_person[person] = [envelope]
    return by_person


def _counts(tx: Transaction, people: Iterable[str]) -> dict[str, int]:
    """How many events are stored for each of `people` who has any."""
    return {
        person: int(count)
        for keys in _chunks(sorted(people))
        for person, count in tx.execute(
            "SELECT person_key, COUNT(*) FROM person_events"
            f" WHERE person_key IN ({_marks(keys)}) GROUP BY person_key",
            keys,
        ).fetchall()
    }


def _stored_ids(tx: Transaction, event_ids: Sequence[str]) -> set[str]:
    return {
        row[0]
        for ids in _chunks(event_ids)
        for row in tx.execute(
            f"SELECT event_id FROM person_events WHERE event_id IN ({_marks(ids)})", ids
        ).fetchall()
    }


def in_order(events: Iterable[Envelope], order: Any) -> History:
    """`events` with their order keys, sorted by them."""
    keyed = [(order(e), e) for e in events]
    if len(keyed) > 1:
        keyed.sort(key=_by_key)
    return keyed


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


_OPENING_LIKE = tuple(f'%"type":"{event_type}"%' for event_type in OPENS)
"""Bodies are compact JSON (`contracts.encode`): narrows the rows read; each is checked parsed."""


def opened_references(tx: Transaction, people: Iterable[str]) -> set[Opened]:
    """What the stored events of `people` opened (their cases, plans, referrals, placements):
    what `runtime.ownership.OpenedReferences` judges a later event's reference against."""
    opened = OpenedReferences()
    for person, event in _matching(tx, people, _OPENING_LIKE):
        payload = event.get("payload") or {}
        opened.record(str(event.get("type")), event["source_org"], person, payload.get)
    return opened.opened


def typed_events(tx: Transaction, people: Iterable[str],
                 types: Sequence[str]) -> list[tuple[str, str, str]]:
    """(person key, type, source org) of the stored events of `people` that have one of
    `types` (e.g. who registered and who erased them), without decoding whole histories."""
    likes = [f'%"type":"{event_type}"%' for event_type in types]
    return [(person, str(event["type"]), str(event["source_org"]))
            for person, event in _matching(tx, people, likes) if event.get("type") in types]


def _matching(tx: Transaction, people: Iterable[str],
              likes: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(person key, decoded event) of the stored events of `people` whose bytes match one of
    the LIKE patterns `likes`: a cheap pre-filter, the caller checks what it decoded."""
    matching = " OR ".join("body LIKE ?" for _ in likes)
    for keys in _chunks(sorted(set(people))):
        rows = tx.execute(
            "SELECT person_key, body FROM person_events"
            f" WHERE person_key IN ({_marks(keys)}) AND ({matching})",
            [*keys, *likes],
        ).fetchall()
        for person, body in rows:
            yield person, orjson.loads(body)


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
