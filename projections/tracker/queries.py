"""The tracker as of a day: person-level rows with filters, and the suppressed summary
(indicator 7). Reads one snapshot, narrows by age and LA in SQL, evaluates in `status.py`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from projections.dataset.areas import Partnership
from projections.dataset.indicators import TRANSITION_TRACKER
from projections.dataset.indicators.transition_tracker import TrackerSummary, summary_figures
from projections.readmodel.store import Snapshot
from projections.tracker.milestones import MILESTONE_IDS
from projections.tracker.models import MilestoneRow, TrackedPerson, TrackerRows
from projections.tracker.status import SEVERITY, PersonStatus, status_of

RAGS = tuple(SEVERITY)


class BadFilter(ValueError):
    """A tracker filter names a RAG or milestone that does not exist."""


class TrackerReadModel(Protocol):
    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


@dataclass(frozen=True)
class TrackerFilter:
    la: str | None = None
    owner: str | None = None
    """Keep people with a red milestone owned by this organisation."""
    rag: str | None = None
    """The person's status, or with `milestone` that milestone's status."""
    milestone: str | None = None
    """Keep people to whom this milestone applies."""

    def check(self, partnership: Partnership) -> None:
        partnership.check(self.la)
        if self.rag is not None and self.rag not in RAGS:
            raise BadFilter(f"rag must be one of {', '.join(RAGS)}, not {self.rag!r}")
        if self.milestone is not None and self.milestone not in MILESTONE_IDS:
            raise BadFilter(
                f"milestone must be one of {', '.join(MILESTONE_IDS)}, not {self.milestone!r}"
            )

    def keeps(self, person: PersonStatus) -> bool:
        rag = person.rag
        if self.milestone is not None:
            chosen = [s for s in person.milestones if s.milestone.id == self.milestone]
            if not chosen:
                return False
            rag = chosen[0].rag
        if self.rag is not None and rag != self.rag:
            return False
        return self.owner is None or any(s.owner == self.owner for s in person.overdue)


def _cohort_birth_months(as_of: date) -> tuple[str, str]:
    """Birth months that can be aged 14 to 25 on `as_of` (refined exactly by `status_of`)."""
    return f"{as_of.year - 26:04d}-{as_of.month:02d}", f"{as_of.year - 14:04d}-{as_of.month:02d}"


def statuses(
    read_model: TrackerReadModel,
    as_of: date,
    la: str | None = None,
) -> tuple[int, list[PersonStatus]]:
    oldest, youngest = _cohort_birth_months(as_of)
    where, params = "birth_month BETWEEN ? AND ?", [oldest, youngest]
    if la is not None:
        where, params = f"{where} AND la_code = ?", [*params, la]
    with read_model.snapshot() as snapshot:
        position = snapshot.position()
        rows = snapshot.rows("young_people", where, params)
    found = (status_of(r.person_key, r.tracker_facts(), as_of) for r in rows)
    return position, sorted((s for s in found if s), key=lambda s: s.person_key)


def _row(person: PersonStatus) -> TrackedPerson:
    return TrackedPerson(
        person_key=person.person_key,
        la=person.la_code,
        birth_month=person.birth_month,
        age=person.age,
        rag=person.rag,
        overdue_owners=sorted({s.owner for s in person.overdue}),
        milestones=[
            MilestoneRow(
                milestone=s.milestone.id,
                title=s.milestone.title,
                owner=s.owner,
                owner_role=s.milestone.owner_role,
                due_rule=s.milestone.due_rule,
                due_on=s.due_on,
                done_on=s.done_on,
                rag=s.rag,
            )
            for s in person.milestones
        ],
    )


def tracker_rows(
    read_model: TrackerReadModel,
    as_of: date,
    partnership: Partnership,
    where: TrackerFilter = TrackerFilter(),
) -> TrackerRows:
    """Everyone in the tracker on `as_of` who passes the filter, with their milestones."""
    where.check(partnership)
    position, people = statuses(read_model, as_of, where.la)
    rows = [_row(p) for p in people if where.keeps(p)]
    return TrackerRows(as_of=as_of, as_at_stream_sequence=position, count=len(rows), people=rows)


def tracker_summary(
    read_model: TrackerReadModel, as_of: date, partnership: Partnership, la: str | None = None
) -> TrackerSummary:
    """Indicator 7: young people by RAG, red milestones by owner and milestone, suppressed."""
    partnership.check(la)
    position, people = statuses(read_model, as_of, la)
    return TrackerSummary(
        indicator=TRANSITION_TRACKER, as_of=as_of, as_at_stream_sequence=position,
        figures=summary_figures(people, partnership, la),
    )
