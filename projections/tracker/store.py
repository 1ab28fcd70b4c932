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
from projections.dataset.facts import HOME_LA_INPUTS
from projections.dataset.fold import history_order
from projections.readmodel.database import open_database
from projections.readmodel.derivation import Derivation
from projections.readmodel.store import PersonHistoryStore
from projections.readmodel.tables import FactTable
from projections.tracker.fold import EMPTY, TrackerFacts, TrackerState, apply, facts_of

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


def rows_of(person_key: str, state: TrackerState) -> tuple[TrackedRow, ...]:
    """The person's row, if they could ever be tracked; no row otherwise."""
    facts = facts_of(state)
    if not facts.relevant:
        return ()
    return (
        TrackedRow(
            person_key, facts.birth_month, facts.la_code, FACTS_JSON.dump_json(facts).decode()
        ),
    )


DERIVATION = Derivation(
    (YOUNG_PEOPLE,),
    initial=EMPTY,
    step=apply,
    order=history_order,
    rows={YOUNG_PEOPLE.name: rows_of},
    inputs={
        YOUNG_PEOPLE.name: (
            "tracked",
            "dataset.amendments",
            "dataset.birth_months",
            *(f"dataset.{name}" for name in HOME_LA_INPUTS),
        )
    },
    version=2,
)
"""The row reads the tracker's own facts and, from the dataset's state, plans, cessations and
amendments and what the person's LA is taken from (`facts_of`): a step that changes none of
them (a request for advice, a decision, a referral…) keeps the row as it is."""


def derive(person_key: str, history: Sequence[Envelope]) -> dict[str, tuple[TrackedRow, ...]]:
    """The tracker's rows for a person's events in any order."""
    return dict(DERIVATION.derive(person_key, history))


class TrackerStore(PersonHistoryStore):
    def __init__(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> None:
        super().__init__(open_database(location, schema=schema), DERIVATION)


@dataclass(frozen=True)
class TrackerProjection:
    name: str = "tracker"

    def open_store(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> TrackerStore:
        return TrackerStore(location, schema=schema)


TRACKER = TrackerProjection()
