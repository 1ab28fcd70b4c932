"""The tracker as of a day: person-level rows with filters, and the suppressed summary
(indicator 7). Reads one snapshot, narrows by age and LA in SQL, evaluates in `status.py`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from math import ceil
from typing import Protocol

from contracts.timescales import months_after
from projections.dataset.areas import Partnership
from projections.dataset.indicators import (
    TRANSITION_TRACKER,
    annual_health_checks,
    dynamic_support_register,
)
from projections.dataset.indicators.annual_health_checks import (
    ELIGIBLE_FROM_AGE,
    HealthChecksOnADay,
    RegisterEntry,
)
from projections.dataset.indicators.dynamic_support_register import (
    RegisterRating,
    SupportRegister,
)
from projections.dataset.indicators.transition_tracker import TrackerSummary, summary_figures
from projections.readmodel.store import Snapshot
from projections.tracker.fold import TrackerFacts
from projections.tracker.milestones import MILESTONE_IDS, age_on, assumed_birth_date
from projections.tracker.models import MilestoneRow, TrackedPerson, TrackerRows
from projections.tracker.status import SEVERITY, PersonStatus, status_of

RAGS = tuple(SEVERITY)


class BadFilter(ValueError):
    """A tracker filter names a RAG or milestone that does not exist."""


PAGE_SIZE_MAX = 500


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


def urgency(person: PersonStatus, as_of: date) -> tuple[int, int, str]:
    """Sort key, most urgent first: the most overdue (its red milestone longest past due), then
    the soonest due of what is not yet done; people with nothing left to do last. The person
    key breaks ties, so pages are stable."""
    open_due = [s.due_on for s in person.milestones
                if s.rag == "amber" or (s.rag == "green" and s.done_on is None)]
    overdue = [(as_of - s.due_on).days for s in person.overdue]
    if overdue:
        return (0, -max(overdue), person.person_key)
    if open_due:
        return (1, (min(open_due) - as_of).days, person.person_key)
    return (2, 0, person.person_key)


@dataclass(frozen=True)
class Page:
    """One page of a list: `number` from 1, `size` rows (None: every row on one page)."""

    number: int = 1
    size: int | None = None

    def check(self) -> None:
        if self.number < 1:
            raise BadFilter(f"page must be 1 or more, not {self.number}")
        if self.size is not None and not 1 <= self.size <= PAGE_SIZE_MAX:
            raise BadFilter(f"page_size must be from 1 to {PAGE_SIZE_MAX}, not {self.size}")

    def pages(self, count: int) -> int:
        return 1 if self.size is None else max(1, ceil(count / self.size))

    def cut(self, rows: list[TrackedPerson]) -> list[TrackedPerson]:
        if self.size is None:
            return rows if self.number == 1 else []
        start = (self.number - 1) * self.size
        return rows[start:start + self.size]


def tracker_rows(
    read_model: TrackerReadModel,
    as_of: date,
    partnership: Partnership,
    where: TrackerFilter = TrackerFilter(),
    page: Page = Page(),
) -> TrackerRows:
    """Everyone in the tracker on `as_of` who passes the filter, with their milestones, most
    urgent first (`urgency`), one page of them."""
    where.check(partnership)
    page.check()
    position, people = statuses(read_model, as_of, where.la)
    kept = sorted((p for p in people if where.keeps(p)), key=lambda p: urgency(p, as_of))
    rows = [_row(p) for p in kept]
    return TrackerRows(
        as_of=as_of, as_at_stream_sequence=position, count=len(rows), page=page.number,
        pages=page.pages(len(rows)), page_size=page.size, people=page.cut(rows),
    )


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


def register_entry(facts: TrackerFacts, as_of: date) -> RegisterEntry | None:
    """The person on the learning disability register on `as_of`, aged 14+ (None: not)."""
    if facts.birth_month is None:
        return None
    if age_on(assumed_birth_date(facts.birth_month), as_of) < ELIGIBLE_FROM_AGE:
        return None
    if not any(d.detail == "learning_disability" and d.on <= as_of for d in facts.diagnoses):
        return None
    year_before = months_after(as_of, -12)
    return RegisterEntry(facts.la_code,
                         any(year_before < day <= as_of for day in facts.health_checks))


def health_checks(
    read_model: TrackerReadModel, as_of: date, partnership: Partnership, la: str | None = None
) -> HealthChecksOnADay:
    """Annual health check uptake on `as_of`, per LA and partnership, suppressed."""
    position, facts = _people(read_model, as_of, partnership, la, min_age=ELIGIBLE_FROM_AGE)
    entries = [e for f in facts if (e := register_entry(f, as_of))]
    return HealthChecksOnADay(
        indicator=annual_health_checks.ON_A_DAY, as_of=as_of, as_at_stream_sequence=position,
        figures=annual_health_checks.health_check_figures(entries, partnership, la),
    )


def _people(read_model: TrackerReadModel, as_of: date, partnership: Partnership,
            la: str | None, *, min_age: int = 0) -> tuple[int, list[TrackerFacts]]:
    """The position and the tracker facts of everyone of `la` (or all) who can be `min_age`."""
    partnership.check(la)
    where, params = "birth_month <= ?", [f"{as_of.year - min_age:04d}-{as_of.month:02d}"]
    if la is not None:
        where, params = f"{where} AND la_code = ?", [*params, la]
    with read_model.snapshot() as snapshot:
        position = snapshot.position()
        rows = snapshot.rows("young_people", where, params)
    return position, [r.tracker_facts() for r in rows]


def register_rating(facts: TrackerFacts, as_of: date) -> RegisterRating | None:
    """The person's latest dynamic support register rating on `as_of` (None: not on it)."""
    rated = [d for d in facts.dsr if d.on <= as_of]
    if facts.birth_month is None or not rated:
        return None
    latest = max(rated, key=lambda d: d.on).detail
    if latest not in dynamic_support_register.RATINGS:
        return None
    return RegisterRating(facts.la_code, latest,
                          age_on(assumed_birth_date(facts.birth_month), as_of))


def support_register_on(
    read_model: TrackerReadModel, as_of: date, partnership: Partnership, la: str | None = None
) -> SupportRegister:
    """The dynamic support register on `as_of` by rating and age band, suppressed."""
    position, facts = _people(read_model, as_of, partnership, la)
    entries = [e for f in facts if (e := register_rating(f, as_of))]
    return SupportRegister(
        indicator=dynamic_support_register.ON_A_DAY, as_of=as_of, as_at_stream_sequence=position,
        figures=dynamic_support_register.support_register_figures(entries, partnership, la),
    )
