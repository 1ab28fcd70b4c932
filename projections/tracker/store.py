"""The tracker's store: one row per person who could ever be tracked (a plan, or a learning
disability or autism diagnosis), holding their dated facts as JSON, plus the stream position.

The birth month and LA are columns so that the queries can narrow by age and LA in SQL; the
milestones are evaluated for the as-of date at query time (`status.py`). Built on the same
per-person store as the dataset (`projections.readmodel.store`): SQLite at a path, or a
PostgreSQL schema (`sendx_tracker` by default) when given a DSN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter

from contracts import Envelope
from projections.readmodel.database import open_database
from projections.readmodel.store import Derivation, PersonHistoryStore
from projections.readmodel.tables import FactTable
from projections.tracker.fold import TrackerFacts, tracker_facts

DEFAULT_SCHEMA = "sendx_tracker"
FACTS_JSON = TypeAdapter(TrackerFacts)


@dataclass(frozen=True)
class TrackedRow:
    person_key: str
    birth_month: str | None
    la_code: str | None
    facts: str
    """`TrackerFacts` as JSON."""

    def tracker_facts(self) -> TrackerFacts:
        return FACTS_JSON.validate_json(self.facts)


YOUNG_PEOPLE = FactTable("young_people", TrackedRow, ("person_key",), (("birth_month",),))


def derive(person_key: str, history: Sequence[Envelope]) -> dict[str, tuple[TrackedRow, ...]]:
    facts = tracker_facts(history)
    if not facts.relevant:
        return {YOUNG_PEOPLE.name: ()}
    row = TrackedRow(
        person_key, facts.birth_month, facts.la_code, FACTS_JSON.dump_json(facts).decode()
    )
    return {YOUNG_PEOPLE.name: (row,)}


DERIVATION = Derivation((YOUNG_PEOPLE,), derive, version=1)


class TrackerStore(PersonHistoryStore):
    def __init__(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> None:
        super().__init__(open_database(location, schema=schema), DERIVATION)


@dataclass(frozen=True)
class TrackerProjection:
    name: str = "tracker"

    def open_store(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> TrackerStore:
        return TrackerStore(location, schema=schema)


TRACKER = TrackerProjection()
