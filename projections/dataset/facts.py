"""The per-person facts the indicators count, derived from a folded `PersonState`. Pure.

Facts are flat rows so that every indicator is a plain aggregate query (SQLite today,
PostgreSQL later) and the statutory arithmetic happens once, here, through
`contracts.timescales` — never re-implemented in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from contracts.timescales import twenty_week_deadline
from projections.dataset.fold import PersonState


@dataclass(frozen=True)
class PlanFact:
    """One EHC plan an LA issued to this person, with its request and timeliness."""

    person_key: str
    la_code: str
    plan_id: str
    case_id: str
    primary_need: str
    issued_on: date
    requested_on: date | None
    """None while the LA's request for this case has not been recorded (yet)."""
    within_twenty_weeks: bool | None
    """Issued on or before `twenty_week_deadline(requested_on)`; None without a request."""
    exception: str | None
    ceased_on: date | None

    @property
    def issued_month(self) -> str:
        return self.issued_on.isoformat()[:7]


@dataclass(frozen=True)
class HealthFlagFact:
    """A spell during which the health record says this person has a plan from `la_code`."""

    person_key: str
    la_code: str
    spell: int
    set_on: date
    cleared_on: date | None


@dataclass(frozen=True)
class PersonFacts:
    plans: tuple[PlanFact, ...] = ()
    health_flags: tuple[HealthFlagFact, ...] = ()


def issued_within_twenty_weeks(requested_on: date, issued_on: date) -> bool:
    """SEND Regulations 2014 reg. 13(2): on the 140th day after the request is still in time."""
    return issued_on <= twenty_week_deadline(requested_on)


def facts_of(person_key: str, state: PersonState) -> PersonFacts:
    plans = []
    for (la_code, plan_id), plan in sorted(state.plans.items()):
        requested_on = state.requests.get((la_code, plan.case_id))
        plans.append(PlanFact(
            person_key=person_key,
            la_code=la_code,
            plan_id=plan_id,
            case_id=plan.case_id,
            primary_need=plan.primary_need,
            issued_on=plan.issued_on,
            requested_on=requested_on,
            within_twenty_weeks=(
                None if requested_on is None
                else issued_within_twenty_weeks(requested_on, plan.issued_on)
            ),
            exception=plan.exception,
            ceased_on=state.ceased.get((la_code, plan_id)),
        ))
    flags = [
        HealthFlagFact(person_key, la_code, number, spell.set_on, spell.cleared_on)
        for la_code, spells in sorted(state.health_flags.items())
        for number, spell in enumerate(spells, start=1)
    ]
    return PersonFacts(plans=tuple(plans), health_flags=tuple(flags))


def dataset_facts(states: Mapping[str, PersonState]) -> dict[str, PersonFacts]:
    """The facts of everyone who has any, by person key: what the store should hold."""
    every = {person: facts_of(person, state) for person, state in sorted(states.items())}
    return {person: facts for person, facts in every.items() if facts != PersonFacts()}
