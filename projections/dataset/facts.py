"""The per-person facts the indicators count, derived from a folded `PersonState`. Pure.

Facts are flat rows so that every indicator is a plain aggregate over them (the same SQL on
SQLite and PostgreSQL) and the statutory arithmetic happens once, here, through
`contracts.timescales`, never re-implemented in SQL. Each fact names the LA it is counted
under; health and provider facts are counted under the person's *home LA* (`home_la`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from contracts import Envelope
from contracts.timescales import (
    advice_due,
    amended_plan_due,
    annual_review_due,
    decision_to_assess_due,
    twenty_week_deadline,
)
from projections.dataset.fold import CaseRef, PersonState, fold_all, fold_person
from projections.dataset.registrations import BirthMonthConflictFact, birth_month_of, conflicts

_LA_CODE = re.compile(r"^\d{3}$")
"""DfE LA codes are three digits (NHS ODS codes and provider ids are not)."""

Facts = dict[str, tuple]
"""Fact rows by table name (see `tables.py`)."""


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
    migrated: bool = False
    """In force at go-live (`ehc.plan_in_force_recorded`): active and reviewed like any plan,
    counted as a new plan issued only when the go-live record gives its request date."""


@dataclass(frozen=True)
class HealthFlagFact:
    """A spell during which the health record says this person has a plan from `la_code`."""

    person_key: str
    la_code: str
    spell: int
    set_on: date
    cleared_on: date | None


@dataclass(frozen=True)
class DecisionFact:
    """The LA's decision whether to assess, and whether it came within 6 weeks of the request."""

    person_key: str
    la_code: str
    case_id: str
    decided_on: date
    decision: str
    requested_on: date | None
    within_six_weeks: bool | None


@dataclass(frozen=True)
class AdviceFact:
    """A request for advice matched with the advice giver's reply (either may be missing)."""

    person_key: str
    la_code: str
    advice_request_id: str
    case_id: str
    advice_giver: str
    requested_on: date | None
    returned_on: date | None
    returned_by: str | None
    within_six_weeks: bool | None


@dataclass(frozen=True)
class ReviewFact:
    """An annual review meeting and whether it was within 12 months of issue or the last one."""

    person_key: str
    la_code: str
    plan_id: str
    held_on: date
    previous_on: date | None
    """The plan's issue date or previous review; None while the plan's issue is not recorded."""
    within_twelve_months: bool | None


@dataclass(frozen=True)
class AmendmentFact:
    """An amended plan issued after a review meeting, and whether within 12 weeks of it."""

    person_key: str
    la_code: str
    plan_id: str
    amended_on: date
    review_held_on: date
    within_twelve_weeks: bool


@dataclass(frozen=True)
class RequestFact:
    """A request for assessment and how far it got: the decision, and when the case closed (a
    refusal to assess, a plan issued or a decision not to issue one)."""

    person_key: str
    la_code: str
    case_id: str
    requested_on: date
    decided_on: date | None
    decision: str | None
    closed_on: date | None


@dataclass(frozen=True)
class AmendDecisionFact:
    """A review outcome to amend the plan, and when the amended plan was issued (if yet)."""

    person_key: str
    la_code: str
    plan_id: str
    review_held_on: date
    decided_on: date
    amended_on: date | None


@dataclass(frozen=True)
class ReferralFact:
    """A wait on a health pathway: from referral to the first assessment (if started) and to
    the diagnosis naming it (if any), or to its closing without assessment."""

    person_key: str
    org: str
    referral_id: str
    la_code: str | None
    pathway: str
    referred_on: date | None
    started_on: date | None
    diagnosed_on: date | None = None
    closed_on: date | None = None


@dataclass(frozen=True)
class PlacementFact:
    person_key: str
    placement_id: str
    la_code: str | None
    provider: str | None
    tier: int | None
    part_time: bool
    started_on: date | None
    ended_on: date | None
    outcome: str | None


@dataclass(frozen=True)
class TimetableFact:
    person_key: str
    org: str
    timetable_id: str
    la_code: str | None
    started_on: date | None
    ended_on: date | None


@dataclass(frozen=True)
class LdRegisterFact:
    """A person on the learning-disability register: diagnosed with a learning disability."""

    person_key: str
    la_code: str | None
    birth_month: str | None
    on_register_from: date
    """The earliest learning-disability diagnosis recorded for them."""


@dataclass(frozen=True)
class HealthCheckFact:
    """An LD annual health check completed (counted with the LD register)."""

    person_key: str
    completed_on: date


@dataclass(frozen=True)
class DsrSpellFact:
    """A spell on the dynamic support register at one rating, until the next change."""

    person_key: str
    spell: int
    la_code: str | None
    birth_month: str | None
    status: str
    from_on: date
    until_on: date | None


@dataclass(frozen=True)
class MediationFact:
    """Mediation advice sought, or a mediation held, about an LA's case."""

    person_key: str
    la_code: str
    case_id: str
    step: int
    happened_on: date
    """When the advice was sought or the mediation held."""
    stage: str
    held: bool
    agreement_reached: bool | None
    followed_by_appeal: bool | None
    """For a mediation held: an appeal about the same case was registered on or after it."""


@dataclass(frozen=True)
class AppealFact:
    """A First-tier Tribunal (SEND) appeal against an LA's decision."""

    person_key: str
    la_code: str
    appeal_id: str
    case_id: str
    stage: str | None
    registered_on: date | None
    decided_on: date | None
    outcome: str | None


@dataclass(frozen=True)
class ComplaintFact:
    """A complaint received by an LA or a health organisation, counted under the LA."""

    person_key: str
    org: str
    complaint_id: str
    la_code: str | None
    """The receiving LA; for health's complaints the person's home LA (`home_la`)."""
    subject: str | None
    received_on: date | None
    resolved_on: date | None
    outcome: str | None


def on_or_before(day: date, due: date) -> bool:
    """A statutory limit is met on its last day: done on the due date is in time."""
    return day <= due


def home_la(state: PersonState) -> str | None:
    """The LA a person's health and provider facts are counted under.

    In order: the LA of their most recently issued plan still maintained; of their most recent
    plan; of their most recent request for assessment; the LA named by health's latest plan
    flag; the LA that commissioned their latest AP placement; the last LA that registered them.
    None when no LA knows them (they are then counted in the partnership only).
    """
    live = [(p.issued_on, ref[0]) for ref, p in state.plans.items() if ref not in state.ceased]
    every = [(p.issued_on, ref[0]) for ref, p in state.plans.items()]
    requests = [(day, ref[0]) for ref, day in state.requests.items()]
    flags = [(spells[-1].set_on, la) for la, spells in state.health_flags.items()]
    placements = [
        (p.started_on or date.min, p.la_code) for p in state.placements.values() if p.la_code
    ]
    for candidates in (live, every, requests, flags, placements):
        if candidates:
            return max(candidates)[1]
    registered = [org for org in state.registered_by if _LA_CODE.match(org)]
    return registered[-1] if registered else None


def _plans(person: str, state: PersonState) -> Iterable[PlanFact]:
    for (la, plan_id), plan in sorted(state.plans.items()):
        requested = state.requests.get((la, plan.case_id), plan.requested_on)
        yield PlanFact(
            person,
            la,
            plan_id,
            plan.case_id,
            plan.primary_need,
            plan.issued_on,
            requested,
            None
            if requested is None
            else on_or_before(plan.issued_on, twenty_week_deadline(requested)),
            plan.exception,
            state.ceased.get((la, plan_id)),
            plan.migrated,
        )


def _decisions(person: str, state: PersonState) -> Iterable[DecisionFact]:
    for (la, case), decided in sorted(state.decisions.items()):
        requested = state.requests.get((la, case))
        yield DecisionFact(
            person,
            la,
            case,
            decided.decided_on,
            decided.decision,
            requested,
            None
            if requested is None
            else on_or_before(decided.decided_on, decision_to_assess_due(requested)),
        )


def _advice(person: str, state: PersonState) -> Iterable[AdviceFact]:
    for (la, ref), advice in sorted(state.advice.items()):
        timed = advice.requested_on is not None and advice.returned_on is not None
        yield AdviceFact(
            person,
            la,
            ref,
            advice.case_id,
            advice.advice_giver or "other",
            advice.requested_on,
            advice.returned_on,
            advice.returned_by,
            on_or_before(advice.returned_on, advice_due(advice.requested_on)) if timed else None,
        )


def _reviews(person: str, state: PersonState) -> Iterable[ReviewFact]:
    for (la, plan_id), held in sorted(state.reviews.items()):
        plan = state.plans.get((la, plan_id))
        previous = (plan.last_reviewed_on or plan.issued_on) if plan else None
        for day in held:
            yield ReviewFact(
                person,
                la,
                plan_id,
                day,
                previous,
                None if previous is None else on_or_before(day, annual_review_due(previous)),
            )
            previous = day


def _amendments(person: str, state: PersonState) -> Iterable[AmendmentFact]:
    for (la, plan_id), amendments in sorted(state.amendments.items()):
        after_review = {a.review_held_on: a for a in amendments if a.review_held_on is not None}
        for review, amendment in sorted(after_review.items()):
            yield AmendmentFact(
                person,
                la,
                plan_id,
                amendment.amended_on,
                review,
                on_or_before(amendment.amended_on, amended_plan_due(review)),
            )


def _requests(person: str, state: PersonState) -> Iterable[RequestFact]:
    for (la, case), requested in sorted(state.requests.items()):
        decided = state.decisions.get((la, case))
        issued = [p.issued_on for (code, _), p in state.plans.items()
                  if code == la and p.case_id == case]
        ends = [*issued, state.not_issued.get((la, case))]
        if decided is not None and decided.decision == "refuse":
            ends.append(decided.decided_on)
        closed = min((d for d in ends if d is not None), default=None)
        yield RequestFact(
            person, la, case, requested,
            decided.decided_on if decided else None, decided.decision if decided else None, closed,
        )


def _amend_decisions(person: str, state: PersonState) -> Iterable[AmendDecisionFact]:
    for (la, plan_id), outcomes in sorted(state.outcomes.items()):
        amended = {a.review_held_on: a.amended_on for a in state.amendments.get((la, plan_id), ())
                   if a.review_held_on is not None}
        for o in outcomes:
            if o.outcome == "amend":
                yield AmendDecisionFact(person, la, plan_id, o.review_held_on, o.decided_on,
                                        amended.get(o.review_held_on))


def _health_flags(person: str, state: PersonState) -> Iterable[HealthFlagFact]:
    for code, spells in sorted(state.health_flags.items()):
        for number, spell in enumerate(spells, start=1):
            yield HealthFlagFact(person, code, number, spell.set_on, spell.cleared_on)


def _referrals(person: str, state: PersonState) -> Iterable[ReferralFact]:
    if not state.referrals:
        return
    la = home_la(state)
    for (org, ref), r in sorted(state.referrals.items()):
        yield ReferralFact(
            person, org, ref, la, r.pathway, r.referred_on, r.started_on, r.diagnosed_on,
            r.closed_on,
        )


def _placements(person: str, state: PersonState) -> Iterable[PlacementFact]:
    for ref, p in sorted(state.placements.items()):
        yield PlacementFact(
            person, ref, p.la_code, p.provider, p.tier, p.part_time, p.started_on, p.ended_on,
            p.outcome,
        )


def _timetables(person: str, state: PersonState) -> Iterable[TimetableFact]:
    if not state.timetables:
        return
    la = home_la(state)
    for (org, ref), t in sorted(state.timetables.items()):
        yield TimetableFact(person, org, ref, la, t.started_on, t.ended_on)


def _ld_register(person: str, state: PersonState) -> Iterable[LdRegisterFact]:
    if not state.ld_diagnoses:
        return
    la = home_la(state)
    born = birth_month_of(state.birth_months, la)
    yield LdRegisterFact(person, la, born, min(state.ld_diagnoses.values()))


def _health_checks(person: str, state: PersonState) -> Iterable[HealthCheckFact]:
    return (HealthCheckFact(person, day) for day in state.health_checks)


def _dsr_spells(person: str, state: PersonState) -> Iterable[DsrSpellFact]:
    if not state.dsr:
        return
    la = home_la(state)
    born = birth_month_of(state.birth_months, la)
    changes = sorted(state.dsr)
    for number, (day, status) in enumerate(changes, start=1):
        if status == "removed":
            continue
        until = next((later for later, _ in changes[number:] if later > day), None)
        yield DsrSpellFact(person, number, la, born, status, day, until)


def _mediations(person: str, state: PersonState) -> Iterable[MediationFact]:
    appealed: dict[CaseRef, list[date]] = {}
    for (la, _), appeal in state.appeals.items():
        if appeal.registered_on is not None:
            appealed.setdefault((la, appeal.case_id), []).append(appeal.registered_on)
    for (la, case), steps in sorted(state.mediations.items()):
        for number, m in enumerate(sorted(steps, key=repr), start=1):
            followed = any(day >= m.on for day in appealed.get((la, case), ())) if m.held else None
            yield MediationFact(
                person, la, case, number, m.on, m.stage, m.held, m.agreement_reached, followed
            )


def _appeals(person: str, state: PersonState) -> Iterable[AppealFact]:
    for (la, ref), a in sorted(state.appeals.items()):
        yield AppealFact(
            person, la, ref, a.case_id, a.stage, a.registered_on, a.decided_on, a.outcome
        )


def _complaints(person: str, state: PersonState) -> Iterable[ComplaintFact]:
    if not state.complaints:
        return
    home = home_la(state)
    for (org, ref), c in sorted(state.complaints.items()):
        la = org if _LA_CODE.match(org) else home
        yield ComplaintFact(
            person, org, ref, la, c.subject, c.received_on, c.resolved_on, c.outcome
        )


def _birth_month_conflicts(person: str, state: PersonState) -> Iterable[BirthMonthConflictFact]:
    return conflicts(person, state.birth_months)


TABLE_ROWS: dict[str, Callable[[str, PersonState], Iterable[object]]] = {
    "ehc_plans": _plans,
    "health_plan_flags": _health_flags,
    "assessment_decisions": _decisions,
    "advice_requests": _advice,
    "annual_reviews": _reviews,
    "plan_amendments": _amendments,
    "referrals": _referrals,
    "ap_placements": _placements,
    "part_time_timetables": _timetables,
    "birth_month_conflicts": _birth_month_conflicts,
    "assessment_requests": _requests,
    "amend_decisions": _amend_decisions,
    "ld_register": _ld_register,
    "health_checks": _health_checks,
    "dsr_spells": _dsr_spells,
    "mediations": _mediations,
    "tribunal_appeals": _appeals,
    "complaints": _complaints,
}
"""Each table's rows from a person's state."""

HOME_LA_INPUTS = ("plans", "ceased", "requests", "health_flags", "placements", "registered_by")
"""The `PersonState` fields `home_la` reads."""
TABLE_INPUTS: dict[str, tuple[str, ...]] = {
    "ehc_plans": ("plans", "requests", "ceased"),
    "health_plan_flags": ("health_flags",),
    "assessment_decisions": ("decisions", "requests"),
    "advice_requests": ("advice",),
    "annual_reviews": ("reviews", "plans"),
    "plan_amendments": ("amendments",),
    "referrals": ("referrals", *HOME_LA_INPUTS),
    "ap_placements": ("placements",),
    "part_time_timetables": ("timetables", *HOME_LA_INPUTS),
    "birth_month_conflicts": ("birth_months",),
    "assessment_requests": ("requests", "decisions", "plans", "not_issued"),
    "amend_decisions": ("outcomes", "amendments"),
    "ld_register": ("ld_diagnoses", "birth_months", *HOME_LA_INPUTS),
    "health_checks": ("health_checks",),
    "dsr_spells": ("dsr", "birth_months", *HOME_LA_INPUTS),
    "mediations": ("mediations", "appeals"),
    "tribunal_appeals": ("appeals",),
    "complaints": ("complaints", *HOME_LA_INPUTS),
}
"""The `PersonState` fields each table's rows read: a step that leaves them all as they were
(the fold keeps unchanged fields by reference) leaves the table's rows as they were."""


def facts_of(person: str, state: PersonState) -> Facts:
    return {table: tuple(rows(person, state)) for table, rows in TABLE_ROWS.items()}


def derive(person: str, history: Sequence[Envelope]) -> Facts:
    """The store's derivation: one person's facts from their events in any order."""
    return facts_of(person, fold_person(history))


def dataset_facts(events: Iterable[Envelope]) -> dict[str, list]:
    """Every fact from scratch, by table, sorted as the store's `facts()` returns them."""
    tables: dict[str, list] = {table: [] for table in facts_of("", PersonState())}
    for person, state in fold_all(events).items():
        for table, rows in facts_of(person, state).items():
            tables.setdefault(table, []).extend(rows)
    return {table: sorted(rows, key=repr) for table, rows in tables.items()}
