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

from contracts.timescales import academic_year_end, annual_review_due, months_after
from projections.tracker import milestones as m
from projections.tracker.fold import PlanSpell, TrackerFacts

AMBER_DAYS = 90
COMPLEX_NEEDS = frozenset({"SLD", "PMLD", "MSI", "PD"})
UNKNOWN_OWNER = "unknown"

Rag = Literal["red", "amber", "green"]
SEVERITY: dict[str, int] = {"green": 0, "amber": 1, "red": 2}


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


def maintained_plan(facts: TrackerFacts, as_of: date) -> PlanSpell | None:
    live = [
        p
        for p in facts.plans
        if p.issued_on <= as_of and (p.ceased_on is None or p.ceased_on > as_of)
    ]
    return max(live, key=lambda p: p.issued_on, default=None)


def _by(dates: Iterable[date], as_of: date, since: date = date.min) -> list[date]:
    return sorted(d for d in dates if since <= d <= as_of)


def _has(facts: TrackerFacts, condition: str, as_of: date) -> bool:
    return any(d.detail == condition and d.on <= as_of for d in facts.diagnoses)


def _on_dsr(facts: TrackerFacts, as_of: date) -> bool:
    changes = sorted((d.on, d.detail) for d in facts.dsr if d.on <= as_of)
    return bool(changes) and changes[-1][1] != "removed"


def _complex_summaries(facts: TrackerFacts, as_of: date) -> list:
    return [s for s in facts.care_summaries if s.detail == "complex" and s.on <= as_of]


def _once(
    milestone: m.Milestone, owner: str, due: date, done: list[date], as_of: date
) -> MilestoneStatus:
    first = done[0] if done else None
    return MilestoneStatus(milestone, owner, due, first, rag_of(due, first is not None, as_of))


def _yearly(
    milestone: m.Milestone, owner: str, first_due: date, done: list[date], as_of: date
) -> MilestoneStatus:
    """Due first on `first_due`, then 12 months after each time it was done."""
    last = done[-1] if done else None
    due = annual_review_due(last) if last else first_due
    return MilestoneStatus(milestone, owner, due, last, rag_of(due, False, as_of))


def _destination(facts: TrackerFacts, born: date, owner: str, as_of: date) -> MilestoneStatus:
    """The first move (post-16, then post-19) not yet prepared for, or the last one."""
    confirmed = [(d.on, date.fromisoformat(d.detail)) for d in facts.destinations if d.on <= as_of]
    amended = _by(facts.post16_amendments, as_of)
    status = None
    for age in (16, 19):
        move = m.move_after_school_year_turning(born, age)
        around = (move - timedelta(days=183), move + timedelta(days=365))
        dest = [on for on, moves in confirmed if around[0] <= moves < around[1]]
        amend = [d for d in amended if move - timedelta(days=365) <= d < around[1]]
        done = max(min(dest), min(amend)) if dest and amend else None
        due = m.march_before(move)
        status = MilestoneStatus(
            m.POST16_DESTINATION, owner, due, done, rag_of(due, done is not None, as_of)
        )
        if done is None:
            return status
    return status


def milestones_of(facts: TrackerFacts, born: date, as_of: date) -> list[MilestoneStatus]:
    la = facts.la_code or UNKNOWN_OWNER
    health = facts.health_org or UNKNOWN_OWNER
    # named worker and transition plan: the LA, or health for someone no LA knows
    coordinator = facts.la_code or facts.health_org or UNKNOWN_OWNER
    plan = maintained_plan(facts, as_of)
    year9_start, year9_end = m.school_year_turning(born, 14)
    learning_disability = _has(facts, "learning_disability", as_of)
    complex_health = _complex_summaries(facts, as_of)
    dsr = _on_dsr(facts, as_of)
    statuses = [
        _once(
            m.NAMED_WORKER,
            coordinator,
            m.turns(born, 14),
            _by((d.on for d in facts.named_workers), as_of),
            as_of,
        ),
        _once(
            m.TRANSITION_PLAN,
            coordinator,
            m.turns(born, 15),
            _by(facts.transition_plans, as_of),
            as_of,
        ),
    ]
    if plan is not None:
        statuses.insert(
            0,
            _yearly(
                m.PFA_REVIEW,
                plan.la_code,
                year9_end,
                _by(facts.pfa_reviews, as_of, year9_start),
                as_of,
            ),
        )
    if learning_disability:
        diagnosed = min(d.on for d in facts.diagnoses if d.detail == "learning_disability")
        owner = next(d.org for d in facts.diagnoses if d.detail == "learning_disability")
        first_due = max(m.turns(born, 15), months_after(diagnosed, 12))
        checks = _by(facts.health_checks, as_of, m.turns(born, 14))
        statuses.append(_yearly(m.LD_HEALTH_CHECK, owner, first_due, checks, as_of))
    if complex_health:
        updates = _by((s.on for s in facts.care_summaries), as_of, year9_start)
        statuses.append(_yearly(m.CARE_SUMMARY, complex_health[-1].org, year9_end, updates, as_of))
    assessed = _by(facts.asc_assessments, as_of)
    complex_plan = plan is not None and plan.primary_need in COMPLEX_NEEDS
    if learning_disability or dsr or complex_plan or assessed:
        statuses.append(_once(m.ASC_ASSESSMENT, la, m.turns(born, 17), assessed, as_of))
    referrals = sorted(
        (r for r in facts.adult_referrals if r.accepted_on <= as_of), key=lambda r: r.accepted_on
    )
    if learning_disability or complex_health or dsr or referrals:
        referral_owner = referrals[-1].org if referrals else health
        statuses.append(
            _once(
                m.ADULT_HEALTH_REFERRAL,
                referral_owner,
                m.turns_and_a_half(born, 17),
                [r.accepted_on for r in referrals],
                as_of,
            )
        )
        agreed = referrals[-1].agreed_transfer_on if referrals else None
        transfers = [t for t in facts.transfers if t.on <= as_of]
        receiving = (transfers[0].detail or transfers[0].org) if transfers else referral_owner
        statuses.append(
            _once(
                m.ADULT_TRANSFER,
                receiving,
                agreed or m.turns(born, 18),
                sorted(t.on for t in transfers),
                as_of,
            )
        )
    if plan is not None:
        statuses.append(_destination(facts, born, plan.la_code, as_of))
    ever = [p for p in facts.plans if p.issued_on <= as_of]
    if ever:
        ceased = [p.ceased_on for p in ever if p.ceased_on is not None and p.ceased_on <= as_of]
        done = [max(ceased)] if plan is None and ceased else []
        statuses.append(
            _once(
                m.PLAN_CEASED, ever[-1].la_code, academic_year_end(m.turns(born, 25)), done, as_of
            )
        )
    order = {milestone.id: i for i, milestone in enumerate(m.MILESTONES)}
    return sorted(statuses, key=lambda s: order[s.milestone.id])


def in_cohort(facts: TrackerFacts, born: date, as_of: date) -> bool:
    """Aged 14 to 25 on `as_of` (14th birthday on or before it, 26th after it), with a plan
    maintained that day or a learning disability or autism diagnosis recorded by then."""
    if not m.turns(born, 14) <= as_of < m.turns(born, 26):
        return False
    return (
        maintained_plan(facts, as_of) is not None
        or _has(facts, "learning_disability", as_of)
        or _has(facts, "autism", as_of)
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
