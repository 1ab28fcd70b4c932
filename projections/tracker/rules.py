"""The milestone table: for each preparing-for-adulthood milestone, whom it applies to, who owns
it and when it is due. Pure: tracker facts + a birth date + an as-of date in.

One row per milestone (`RULES`, in the order of `milestones.MILESTONES`), each three plain
functions of a `Person` (the facts as of the day, read once); `status.milestones_of` evaluates
the table. The written rules (`Milestone.owner_role`, `Milestone.due_rule`) are what the API
shows beside each row; the functions here are those words in code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from contracts.timescales import academic_year_end, annual_review_due, months_after
from projections.tracker import milestones as m
from projections.tracker.fold import AdultReferral, Dated, PlanSpell, TrackerFacts

COMPLEX_NEEDS = frozenset({"SLD", "PMLD", "MSI", "PD"})
UNKNOWN_OWNER = "unknown"


def maintained_plan(facts: TrackerFacts, as_of: date) -> PlanSpell | None:
    live = [
        p
        for p in facts.plans
        if p.issued_on <= as_of and (p.ceased_on is None or p.ceased_on > as_of)
    ]
    return max(live, key=lambda p: p.issued_on, default=None)


def has_diagnosis(facts: TrackerFacts, condition: str, as_of: date) -> bool:
    return any(d.detail == condition and d.on <= as_of for d in facts.diagnoses)


def _by(dates: Iterable[date], as_of: date, since: date = date.min) -> list[date]:
    return sorted(d for d in dates if since <= d <= as_of)


@dataclass(frozen=True)
class Person:
    """One young person's facts as of a day, each read once and only when a rule asks."""

    facts: TrackerFacts
    born: date
    as_of: date

    def by(self, dates: Iterable[date], since: date = date.min) -> list[date]:
        """The dates done by the as-of date (and on or after `since`), in order."""
        return _by(dates, self.as_of, since)

    @cached_property
    def plan(self) -> PlanSpell | None:
        return maintained_plan(self.facts, self.as_of)

    @cached_property
    def ever(self) -> list[PlanSpell]:
        """Every plan issued by the as-of date."""
        return [p for p in self.facts.plans if p.issued_on <= self.as_of]

    @cached_property
    def year9(self) -> tuple[date, date]:
        return m.school_year_turning(self.born, 14)

    @cached_property
    def learning_disability(self) -> bool:
        return has_diagnosis(self.facts, "learning_disability", self.as_of)

    @cached_property
    def complex_health(self) -> list[Dated]:
        summaries = self.facts.care_summaries
        return [s for s in summaries if s.detail == "complex" and s.on <= self.as_of]

    @cached_property
    def dsr(self) -> bool:
        """On the dynamic support register: the last change by the as-of date did not remove
        them."""
        changes = sorted((d.on, d.detail) for d in self.facts.dsr if d.on <= self.as_of)
        return bool(changes) and changes[-1][1] != "removed"

    @cached_property
    def assessed(self) -> list[date]:
        return self.by(self.facts.asc_assessments)

    @cached_property
    def referrals(self) -> list[AdultReferral]:
        """Referrals to adult health services accepted by the as-of date, in order."""
        accepted = (r for r in self.facts.adult_referrals if r.accepted_on <= self.as_of)
        return sorted(accepted, key=lambda r: r.accepted_on)

    @property
    def la(self) -> str:
        return self.facts.la_code or UNKNOWN_OWNER

    @property
    def coordinator(self) -> str:
        """Named worker and transition plan: the LA, or health for someone no LA knows."""
        return self.facts.la_code or self.facts.health_org or UNKNOWN_OWNER

    @property
    def referral_owner(self) -> str:
        return self.referrals[-1].org if self.referrals else self.facts.health_org or UNKNOWN_OWNER


@dataclass(frozen=True)
class Due:
    """When a milestone is due, when it was done, and whether that counts as done for the RAG."""

    on: date
    done_on: date | None
    done: bool


def once(due: date, done: list[date]) -> Due:
    """Done once: the first time it was done."""
    first = done[0] if done else None
    return Due(due, first, first is not None)


def yearly(first_due: date, done: list[date]) -> Due:
    """Due first on `first_due`, then 12 months after each time it was done; never done for good."""
    last = done[-1] if done else None
    return Due(annual_review_due(last) if last else first_due, last, False)


@dataclass(frozen=True)
class Rule:
    milestone: m.Milestone
    applies_to: Callable[[Person], bool]
    owner: Callable[[Person], str]
    due: Callable[[Person], Due]


def _has_plan(p: Person) -> bool:
    return p.plan is not None


def _plan_la(p: Person) -> str:
    assert p.plan is not None
    return p.plan.la_code


def _everyone(_: Person) -> bool:
    return True


def _coordinator(p: Person) -> str:
    return p.coordinator


def _pfa_review(p: Person) -> Due:
    start, end = p.year9
    return yearly(end, p.by(p.facts.pfa_reviews, start))


def _named_worker(p: Person) -> Due:
    return once(m.turns(p.born, 14), p.by(d.on for d in p.facts.named_workers))


def _transition_plan(p: Person) -> Due:
    return once(m.turns(p.born, 15), p.by(p.facts.transition_plans))


def _learning_disability(p: Person) -> bool:
    return p.learning_disability


def _ld_diagnosed_by(p: Person) -> str:
    return next(d.org for d in p.facts.diagnoses if d.detail == "learning_disability")


def _ld_health_check(p: Person) -> Due:
    diagnosed = min(d.on for d in p.facts.diagnoses if d.detail == "learning_disability")
    first_due = max(m.turns(p.born, 15), months_after(diagnosed, 12))
    return yearly(first_due, p.by(p.facts.health_checks, m.turns(p.born, 14)))


def _complex_health(p: Person) -> bool:
    return bool(p.complex_health)


def _care_summary_owner(p: Person) -> str:
    return p.complex_health[-1].org


def _care_summary(p: Person) -> Due:
    start, end = p.year9
    return yearly(end, p.by((s.on for s in p.facts.care_summaries), start))


def _adult_care_likely(p: Person) -> bool:
    complex_plan = p.plan is not None and p.plan.primary_need in COMPLEX_NEEDS
    return p.learning_disability or p.dsr or complex_plan or bool(p.assessed)


def _la(p: Person) -> str:
    return p.la


def _asc_assessment(p: Person) -> Due:
    return once(m.turns(p.born, 17), p.assessed)


def _adult_health_likely(p: Person) -> bool:
    return p.learning_disability or bool(p.complex_health) or p.dsr or bool(p.referrals)


def _referral_owner(p: Person) -> str:
    return p.referral_owner


def _adult_health_referral(p: Person) -> Due:
    return once(m.turns_and_a_half(p.born, 17), [r.accepted_on for r in p.referrals])


def _transfers(p: Person) -> list[Dated]:
    return [t for t in p.facts.transfers if t.on <= p.as_of]


def _receiving_service(p: Person) -> str:
    transfers = _transfers(p)
    return (transfers[0].detail or transfers[0].org) if transfers else p.referral_owner


def _adult_transfer(p: Person) -> Due:
    agreed = p.referrals[-1].agreed_transfer_on if p.referrals else None
    return once(agreed or m.turns(p.born, 18), sorted(t.on for t in _transfers(p)))


def _destination(p: Person) -> Due:
    """The first move (post-16, then post-19) not yet prepared for, or the last one."""
    post16 = _move_prepared(p, 16)
    return _move_prepared(p, 19) if post16.done else post16


def _move_prepared(p: Person, age: int) -> Due:
    """Due by 31 March before the move after the school year they turn `age`; done when a
    destination for that move is confirmed and the plan amended for it (the later of the two)."""
    move = m.move_after_school_year_turning(p.born, age)
    around = (move - timedelta(days=183), move + timedelta(days=365))
    confirmed = [(d.on, date.fromisoformat(d.detail)) for d in p.facts.destinations
                 if d.on <= p.as_of]
    dest = [on for on, moves in confirmed if around[0] <= moves < around[1]]
    amended = p.by(p.facts.post16_amendments)
    amend = [d for d in amended if move - timedelta(days=365) <= d < around[1]]
    done = max(min(dest), min(amend)) if dest and amend else None
    return Due(m.march_before(move), done, done is not None)


def _had_a_plan(p: Person) -> bool:
    return bool(p.ever)


def _last_plan_la(p: Person) -> str:
    return p.ever[-1].la_code


def _plan_ceased(p: Person) -> Due:
    ceased = [q.ceased_on for q in p.ever if q.ceased_on is not None and q.ceased_on <= p.as_of]
    done = [max(ceased)] if p.plan is None and ceased else []
    return once(academic_year_end(m.turns(p.born, 25)), done)


RULES: tuple[Rule, ...] = (
    Rule(m.PFA_REVIEW, _has_plan, _plan_la, _pfa_review),
    Rule(m.NAMED_WORKER, _everyone, _coordinator, _named_worker),
    Rule(m.TRANSITION_PLAN, _everyone, _coordinator, _transition_plan),
    Rule(m.LD_HEALTH_CHECK, _learning_disability, _ld_diagnosed_by, _ld_health_check),
    Rule(m.CARE_SUMMARY, _complex_health, _care_summary_owner, _care_summary),
    Rule(m.ASC_ASSESSMENT, _adult_care_likely, _la, _asc_assessment),
    Rule(m.ADULT_HEALTH_REFERRAL, _adult_health_likely, _referral_owner, _adult_health_referral),
    Rule(m.ADULT_TRANSFER, _adult_health_likely, _receiving_service, _adult_transfer),
    Rule(m.POST16_DESTINATION, _has_plan, _plan_la, _destination),
    Rule(m.PLAN_CEASED, _had_a_plan, _last_plan_la, _plan_ceased),
)
"""milestone, applies to, owner, due rule: in the order the tracker lists them."""
