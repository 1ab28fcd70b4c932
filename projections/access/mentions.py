"""Which organisations' own events mention a person: the index behind person-level access.

An organisation may see person-level rows only for people its own events mention (its own
`source_org`). The dataset store already keeps every event it has applied in `person_events`
(per person, deduplicated, with the envelope that names the source), so the index is a query
over that table, not another copy of the stream: it is exactly as current as the figures.

Portable SQL (SQLite and PostgreSQL): a `LIKE` on the compact orjson encoding narrows the rows,
and the decoded envelope confirms the source, so a payload field could never fake a match.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import orjson

CHUNK = 500
"""Person keys per `IN (…)`: well under SQLite's and PostgreSQL's parameter limits."""


class EventQueries(Protocol):
    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...


class EventIndex(Protocol):
    """A read model that keeps `person_events` (the dataset store does)."""

    def snapshot(self) -> AbstractContextManager[EventQueries]: ...


def _chunks(keys: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(keys)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


def _sources(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[str, str]]:
    for person_key, body in rows:
        yield person_key, orjson.loads(body)["source_org"]


def people_mentioned_by(index: EventIndex, org: str, person_keys: Collection[str]) -> set[str]:
    """The subset of `person_keys` that at least one of `org`'s own events is about."""
    if not person_keys:
        return set()
    found: set[str] = set()
    pattern = f'%"source_org":"{org}"%'
    with index.snapshot() as snapshot:
        for chunk in _chunks(person_keys):
            marks = ", ".join("?" for _ in chunk)
            rows = snapshot.query(
                f"SELECT person_key, body FROM person_events"
                f" WHERE person_key IN ({marks}) AND body LIKE ?",
                (*chunk, pattern),
            )
            found.update(key for key, source in _sources(rows) if source == org)
    return found


def organisations_mentioning(index: EventIndex, person_key: str) -> set[str]:
    """Every organisation whose own events are about `person_key` (for audits and tests)."""
    with index.snapshot() as snapshot:
        rows = snapshot.query(
            "SELECT person_key, body FROM person_events WHERE person_key = ?", (person_key,)
        )
    return {source for _, source in _sources(rows)}
