"""A young person's milestones and RAG status as of a day. Pure: tracker facts + a date in.

RAG (domain rule): red when a milestone is past due and not done; amber when it is not done
and due within 90 days; green otherwise; a young person's status is the worst of theirs.
Precisely: red when the due date is before the as-of date; amber when the due date is on the
as-of date or up to 90 days after it (a milestone due in exactly 90 days is amber); a
milestone done on or before the as-of date is green, even if it was done late. Only what was
done by the as-of date counts, so the same facts give a different picture on another day. For
the yearly milestones the row shows the last time it was done and when the next is due.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from projections.dataset.indicators.transition_tracker import RAGS
from projections.tracker import milestones as m
from projections.tracker.fold import TrackerFacts
from projections.tracker.rules import RULES, Person, Rule, has_diagnosis, maintained_plan

AMBER_DAYS = 90

Rag = Literal["red", "amber", "green"]
SEVERITY: dict[str, int] = {rag: i for i, rag in enumerate(RAGS)}


@dataclass(frozen=True)
class MilestoneStatus:
    milestone: m.Milestone
    owner: str
    """Code of the owning organisation (`unknown` when no event names one)."""
    due_on: date
    done_on: date | None
    rag: Rag


@dataclass(frozen=True)
class PersonStatus:
    person_key: str
    la_code: str | None
    birth_month: str
    age: int
    rag: Rag
    milestones: tuple[MilestoneStatus, ...]

    @property
    def overdue(self) -> tuple[MilestoneStatus, ...]:
        return tuple(s for s in self.milestones if s.rag == "red")


def rag_of(due_on: date, done: bool, as_of: date) -> Rag:
    if done:
        return "green"
    if due_on < as_of:
        return "red"
    return "amber" if due_on <= as_of + timedelta(days=AMBER_DAYS) else "green"


def worst(rags: Iterable[Rag]) -> Rag:
    return max(rags, key=SEVERITY.__getitem__, default="green")


def milestones_of(facts: TrackerFacts, born: date, as_of: date) -> list[MilestoneStatus]:
    """The milestone table (`rules.RULES`) evaluated for one person as of a day."""
    person = Person(facts, born, as_of)
    return [_evaluate(rule, person) for rule in RULES if rule.applies_to(person)]


def _evaluate(rule: Rule, person: Person) -> MilestoneStatus:
    due = rule.due(person)
    return MilestoneStatus(
        rule.milestone, rule.owner(person), due.on, due.done_on,
        rag_of(due.on, due.done, person.as_of),
    )


def in_cohort(facts: TrackerFacts, born: date, as_of: date) -> bool:
    """Aged 14 to 25 on `as_of` (14th birthday on or before it, 26th after it), with a plan
    maintained that day or a learning disability or autism diagnosis recorded by then."""
    if not m.turns(born, 14) <= as_of < m.turns(born, 26):
        return False
    return (
        maintained_plan(facts, as_of) is not None
        or has_diagnosis(facts, "learning_disability", as_of)
        or has_diagnosis(facts, "autism", as_of)
    )


def status_of(person_key: str, facts: TrackerFacts, as_of: date) -> PersonStatus | None:
    """The person's milestones and RAG as of `as_of`; None outside the tracker's cohort."""
    if facts.birth_month is None:
        return None
    born = m.assumed_birth_date(facts.birth_month)
    if not in_cohort(facts, born, as_of):
        return None
    statuses = tuple(milestones_of(facts, born, as_of))
    return PersonStatus(
        person_key,
        facts.la_code,
        facts.birth_month,
        m.age_on(born, as_of),
        worst(s.rag for s in statuses),
        statuses,
    )
