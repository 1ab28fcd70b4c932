"""The shared dataset's fold: one person's events → what the partnership knows about them. Pure.

Events reach the bus out of order across organisations and may be duplicated, so a person's
events are folded in `history_order` — (occurred_at, recorded_at, event_id), a total and
deterministic order: the store steps a person's kept state with an event that sorts after
their last one, and re-folds their whole sorted history otherwise
(`projections.readmodel.store`). The stored state of a person is therefore exactly
`fold_person(their events)`, whatever order or how many times they arrived; the indicators are
queries over the facts derived from it (`facts.py`). Facts that pair two organisations' events
(the LA's request for advice and the ICB's reply, a referral and its first assessment) are
keyed by the shared reference, so either may arrive first.

The handlers are dispatched on the payload class (`functools.singledispatch`); events the
dataset does not use leave the state unchanged. State is immutable: each handler returns a new
`PersonState` (mappings are copied, never mutated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce, singledispatch
from typing import TypeVar

from contracts import Envelope, Payload
from contracts.ap import PlacementCommissioned, PlacementEnded, PlacementStarted
from contracts.disagreement import (
    AppealDecided,
    AppealRegistered,
    ComplaintReceived,
    ComplaintResolved,
    MediationAdviceSought,
    MediationHeld,
)
from contracts.ehc import (
    AdviceRequested,
    AdviceReturned,
    AnnualReviewHeld,
    AssessmentDecided,
    AssessmentRequested,
    AssessmentStepRecorded,
    PlanAmended,
    PlanCeased,
    PlanInForceRecorded,
    PlanIssued,
    PlanNotIssued,
    ReviewOutcome,
)
from contracts.health import (
    AnnualHealthCheckCompleted,
    DiagnosisRecorded,
    DsrStatusChanged,
    EhcPlanFlagCleared,
    EhcPlanFlagSet,
    HealthAssessmentStarted,
    ReferralClosed,
    ReferralMade,
)
from contracts.person import PersonRegistered
from contracts.provider import PartTimeTimetableEnded, PartTimeTimetableStarted
from projections.dataset.registrations import BirthMonths, registered

CaseRef = tuple[str, str]
"""(LA code, the LA's case id): a case id is only unique within its LA."""
PlanRef = tuple[str, str]
"""(LA code, the LA's plan id)."""
AdviceRef = tuple[str, str]
"""(requesting LA code, advice request id): quoted back by the advice giver."""
OrgRef = tuple[str, str]
"""(publishing organisation, its own reference): referrals and timetables."""


@dataclass(frozen=True)
class IssuedPlan:
    case_id: str
    issued_on: date
    primary_need: str
    exception: str | None
    migrated: bool = False
    """Recorded at go-live (`ehc.plan_in_force_recorded`), not observed as it was issued."""
    requested_on: date | None = None
    """The request date a go-live record supplies (live plans take it from the request)."""
    last_reviewed_on: date | None = None
    """The last review before go-live: the next review is judged from it."""


@dataclass(frozen=True)
class FlagSpell:
    """A period during which the health record marks the person as having a plan from an LA."""

    set_on: date
    cleared_on: date | None = None


@dataclass(frozen=True)
class Decision:
    decided_on: date
    decision: str


@dataclass(frozen=True)
class Advice:
    """One request for advice, from either side: the LA's request and/or the giver's reply."""

    case_id: str
    requested_on: date | None = None
    advice_giver: str | None = None
    returned_on: date | None = None
    returned_by: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The LA's decision after a review meeting."""

    review_held_on: date
    decided_on: date
    outcome: str


@dataclass(frozen=True)
class Amendment:
    amended_on: date
    trigger: str
    review_held_on: date | None


@dataclass(frozen=True)
class Referral:
    pathway: str
    """"" while only a diagnosis naming the referral has arrived."""
    referred_on: date | None = None
    started_on: date | None = None
    diagnosed_on: date | None = None
    """The earliest diagnosis that names this referral (by the organisation holding it)."""
    closed_on: date | None = None
    """Closed without any assessment (`health.referral_closed`)."""


@dataclass(frozen=True)
class Placement:
    """An AP placement as the commissioning LA and the provider describe it."""

    la_code: str | None = None
    provider: str | None = None
    tier: int | None = None
    part_time: bool = False
    started_on: date | None = None
    ended_on: date | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Timetable:
    started_on: date | None = None
    ended_on: date | None = None


@dataclass(frozen=True)
class Mediation:
    """Mediation advice sought (`held` False) or a mediation held, about an LA's case."""

    on: date
    stage: str
    held: bool
    agreement_reached: bool | None = None


@dataclass(frozen=True)
class Appeal:
    """A tribunal appeal as registered and decided (either may arrive first)."""

    case_id: str
    stage: str | None = None
    registered_on: date | None = None
    decided_on: date | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Complaint:
    subject: str | None = None
    received_on: date | None = None
    resolved_on: date | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class PersonState:
    registered_by: tuple[str, ...] = ()
    """Organisations that registered the person, in history order."""
    birth_months: BirthMonths = field(default_factory=dict)
    """The birth month each organisation registered (`registrations.py`): never overwritten by
    another organisation's."""
    requests: Mapping[CaseRef, date] = field(default_factory=dict)
    decisions: Mapping[CaseRef, Decision] = field(default_factory=dict)
    advice: Mapping[AdviceRef, Advice] = field(default_factory=dict)
    plans: Mapping[PlanRef, IssuedPlan] = field(default_factory=dict)
    ceased: Mapping[PlanRef, date] = field(default_factory=dict)
    reviews: Mapping[PlanRef, tuple[date, ...]] = field(default_factory=dict)
    """Review meeting dates per plan, sorted, each once."""
    amendments: Mapping[PlanRef, tuple[Amendment, ...]] = field(default_factory=dict)
    outcomes: Mapping[PlanRef, tuple[Outcome, ...]] = field(default_factory=dict)
    """Review outcomes per plan, one per review meeting (the latest decision about it)."""
    not_issued: Mapping[CaseRef, date] = field(default_factory=dict)
    """Cases the LA decided, after assessing, not to issue a plan for: the day decided."""
    health_flags: Mapping[str, tuple[FlagSpell, ...]] = field(default_factory=dict)
    """Spells per LA code named by the health record, oldest first."""
    referrals: Mapping[OrgRef, Referral] = field(default_factory=dict)
    placements: Mapping[str, Placement] = field(default_factory=dict)
    timetables: Mapping[OrgRef, Timetable] = field(default_factory=dict)
    ld_diagnoses: Mapping[OrgRef, date] = field(default_factory=dict)
    """Learning-disability diagnoses (the LD register), by (organisation, diagnosis id)."""
    health_checks: tuple[date, ...] = ()
    """LD annual health checks completed, sorted, each date once."""
    dsr: tuple[tuple[date, str], ...] = ()
    """Dynamic support register ratings (date, status), in history order."""
    mediations: Mapping[CaseRef, tuple[Mediation, ...]] = field(default_factory=dict)
    appeals: Mapping[OrgRef, Appeal] = field(default_factory=dict)
    """Tribunal appeals by (LA, appeal id)."""
    complaints: Mapping[OrgRef, Complaint] = field(default_factory=dict)


EMPTY = PersonState()
_NO_PLACEMENT = Placement()
_NO_TIMETABLE = Timetable()
"""What a placement or timetable is before its first event (immutable: shared, never changed)."""


def history_order(event: Envelope) -> tuple[datetime, datetime, int]:
    """The order the dataset folds a person's events in: when it happened, then tie-breaks.

    The event id as its 128-bit number sorts exactly as its text would (fixed-width hex), and
    costs nothing to read: the store computes this key for every event it takes."""
    return (event.occurred_at, event.recorded_at, event.event_id.int)


def apply(state: PersonState, event: Envelope) -> PersonState:
    payload = event.payload
    handler = _HANDLERS.get(payload.__class__) or _handler(payload.__class__)
    return handler(payload, state, event)


def fold_person(events: Iterable[Envelope]) -> PersonState:
    """One person's state from their events in any order, duplicates (same event id) ignored."""
    unique: dict[str, Envelope] = {}
    for event in events:
        unique.setdefault(str(event.event_id), event)
    return reduce(apply, sorted(unique.values(), key=history_order), EMPTY)


def fold_all(events: Iterable[Envelope]) -> dict[str, PersonState]:
    """Every person's state from scratch: the reference the stored read model must equal."""
    by_person: dict[str, list[Envelope]] = {}
    for event in events:
        by_person.setdefault(event.person_key, []).append(event)
    return {person: fold_person(history) for person, history in by_person.items()}


_Frozen = TypeVar("_Frozen")


def evolve(instance: _Frozen, **changes: object) -> _Frozen:
    """`dataclasses.replace` for the fold's plain frozen dataclasses, without re-running their
    `__init__` (one `object.__setattr__` per field): measured, a third of the fold's time.
    Unchanged fields are kept by reference, as `replace` keeps them. A name that is not a field
    is caught by the count of fields afterwards (cheaper than comparing the names first: the
    tracker evolves three objects per event)."""
    before = instance.__dict__
    evolved = _new(instance.__class__)
    fields = evolved.__dict__
    fields.update(before)
    fields.update(changes)
    if len(fields) != len(before):
        unknown = sorted(changes.keys() - before.keys())
        raise TypeError(f"{type(instance).__name__} has no field {unknown}")
    return evolved


_new = object.__new__


def _put(mapping: Mapping, key: object, value: object) -> dict:
    return {**mapping, key: value}


@singledispatch
def _apply(payload: Payload, state: PersonState, event: Envelope) -> PersonState:
    return state


Handler = Callable[[Payload, PersonState, Envelope], PersonState]
_HANDLERS: dict[type, Handler] = {}
"""`_apply`'s handler per payload class, looked up once: `singledispatch`'s own lookup (a
weak-keyed cache behind a wrapper) was a tenth of a step. Every handler is registered when this
module is imported, before the first event."""


def _handler(payload_class: type) -> Handler:
    handler = _HANDLERS[payload_class] = _apply.dispatch(payload_class)
    return handler


@_apply.register
def _registered(payload: PersonRegistered, state: PersonState, event: Envelope) -> PersonState:
    months = registered(state.birth_months, event.source_org, payload.birth_month)
    return evolve(state, registered_by=(*state.registered_by, event.source_org),
                  birth_months=months)


@_apply.register
def _request_received(
    payload: AssessmentRequested, state: PersonState, event: Envelope
) -> PersonState:
    case = (event.source_org, payload.case_id)
    return evolve(state, requests=_put(state.requests, case, payload.requested_on))


@_apply.register
def _assessment_at_step(
    payload: AssessmentStepRecorded, state: PersonState, event: Envelope
) -> PersonState:
    """Go-live: the request, and the decisions the LA holds, with its own dates (counted like
    the same facts observed live; see `contracts.ehc.AssessmentStepRecorded`)."""
    case = (event.source_org, payload.case_id)
    changes: dict[str, Mapping] = {"requests": _put(state.requests, case, payload.requested_on)}
    if payload.decision is not None and payload.decided_on is not None:
        decision = Decision(payload.decided_on, payload.decision)
        changes["decisions"] = _put(state.decisions, case, decision)
    if payload.not_issued_on is not None:
        changes["not_issued"] = _put(state.not_issued, case, payload.not_issued_on)
    return evolve(state, **changes)


@_apply.register
def _decided(payload: AssessmentDecided, state: PersonState, event: Envelope) -> PersonState:
    case = (event.source_org, payload.case_id)
    decision = Decision(payload.decided_on, payload.decision)
    return evolve(state, decisions=_put(state.decisions, case, decision))


@_apply.register
def _advice_requested(payload: AdviceRequested, state: PersonState, event: Envelope) -> PersonState:
    ref = (event.source_org, payload.advice_request_id)
    known = state.advice.get(ref)
    if known is None:
        asked = Advice(payload.case_id, payload.requested_on, payload.advice_giver)
    else:
        asked = evolve(known, requested_on=payload.requested_on, advice_giver=payload.advice_giver)
    return evolve(state, advice=_put(state.advice, ref, asked))


@_apply.register
def _advice_returned(payload: AdviceReturned, state: PersonState, event: Envelope) -> PersonState:
    ref = (payload.requesting_la, payload.advice_request_id)
    known = state.advice.get(ref)
    if known is None:
        given = Advice(
            payload.case_id,
            advice_giver=payload.advice_giver,
            returned_on=payload.returned_on,
            returned_by=event.source_org,
        )
    else:
        given = evolve(known, returned_on=payload.returned_on, returned_by=event.source_org)
    return evolve(state, advice=_put(state.advice, ref, given))


@_apply.register
def _plan_issued(payload: PlanIssued, state: PersonState, event: Envelope) -> PersonState:
    plan = IssuedPlan(payload.case_id, payload.issued_on, payload.primary_need, payload.exception)
    return evolve(state, plans=_put(state.plans, (event.source_org, payload.plan_id), plan))


@_apply.register
def _plan_in_force(
    payload: PlanInForceRecorded, state: PersonState, event: Envelope
) -> PersonState:
    plan = IssuedPlan(
        payload.case_id,
        payload.issued_on,
        payload.primary_need,
        payload.exception,
        migrated=True,
        requested_on=payload.requested_on,
        last_reviewed_on=payload.last_reviewed_on,
    )
    return evolve(state, plans=_put(state.plans, (event.source_org, payload.plan_id), plan))


@_apply.register
def _plan_ceased(payload: PlanCeased, state: PersonState, event: Envelope) -> PersonState:
    plan = (event.source_org, payload.plan_id)
    return evolve(state, ceased=_put(state.ceased, plan, payload.ceased_on))


@_apply.register
def _review_held(payload: AnnualReviewHeld, state: PersonState, event: Envelope) -> PersonState:
    plan = (event.source_org, payload.plan_id)
    held = tuple(sorted({*state.reviews.get(plan, ()), payload.held_on}))
    return evolve(state, reviews=_put(state.reviews, plan, held))


@_apply.register
def _plan_not_issued(payload: PlanNotIssued, state: PersonState, event: Envelope) -> PersonState:
    case = (event.source_org, payload.case_id)
    return evolve(state, not_issued=_put(state.not_issued, case, payload.decided_on))


@_apply.register
def _review_outcome(payload: ReviewOutcome, state: PersonState, event: Envelope) -> PersonState:
    plan = (event.source_org, payload.plan_id)
    decided = Outcome(payload.review_held_on, payload.decided_on, payload.outcome)
    others = tuple(o for o in state.outcomes.get(plan, ())
                   if o.review_held_on != payload.review_held_on)
    outcomes = tuple(sorted((*others, decided), key=lambda o: o.review_held_on))
    return evolve(state, outcomes=_put(state.outcomes, plan, outcomes))


@_apply.register
def _plan_amended(payload: PlanAmended, state: PersonState, event: Envelope) -> PersonState:
    plan = (event.source_org, payload.plan_id)
    amendment = Amendment(payload.amended_on, payload.trigger, payload.review_held_on)
    return evolve(
        state, amendments=_put(state.amendments, plan, (*state.amendments.get(plan, ()), amendment))
    )


@_apply.register
def _health_flag_set(payload: EhcPlanFlagSet, state: PersonState, event: Envelope) -> PersonState:
    spells = state.health_flags.get(payload.la_code, ())
    if spells and spells[-1].cleared_on is None:
        return state  # already flagged: a repeated set changes nothing
    flagged = (*spells, FlagSpell(set_on=payload.set_on))
    return evolve(state, health_flags=_put(state.health_flags, payload.la_code, flagged))


@_apply.register
def _health_flag_cleared(
    payload: EhcPlanFlagCleared, state: PersonState, event: Envelope
) -> PersonState:
    spells = state.health_flags.get(payload.la_code, ())
    if not spells or spells[-1].cleared_on is not None:
        return state  # nothing open to clear
    closed = (*spells[:-1], evolve(spells[-1], cleared_on=payload.cleared_on))
    return evolve(state, health_flags=_put(state.health_flags, payload.la_code, closed))


@_apply.register
def _referred(payload: ReferralMade, state: PersonState, event: Envelope) -> PersonState:
    ref = (event.source_org, payload.referral_id)
    known = state.referrals.get(ref)
    if known is None:
        referral = Referral(payload.pathway, referred_on=payload.referred_on)
    else:
        referral = evolve(known, pathway=payload.pathway, referred_on=payload.referred_on)
    return evolve(state, referrals=_put(state.referrals, ref, referral))


@_apply.register
def _assessment_started(
    payload: HealthAssessmentStarted, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.referral_id)
    return _earliest(state, ref, payload.pathway, "started_on", payload.started_on)


def _earliest(state: PersonState, ref: OrgRef, pathway: str, field: str, day: date) -> PersonState:
    """The referral's `field` set to `day` unless an earlier day is known: a wait ends once."""
    known = state.referrals.get(ref)
    if known is None:
        referral = Referral(pathway, **{field: day})
    elif (ended := getattr(known, field)) is not None and ended <= day:
        return state
    else:
        referral = evolve(known, **{field: day})
    return evolve(state, referrals=_put(state.referrals, ref, referral))


@_apply.register
def _diagnosed(payload: DiagnosisRecorded, state: PersonState, event: Envelope) -> PersonState:
    """A diagnosis: a learning disability puts the person on the LD register; one naming a
    referral ends that referral's wait for diagnosis (the first one)."""
    state = _ld_register(payload, state, event)
    if payload.referral_id is None:
        return state
    ref = (payload.referral_org or event.source_org, payload.referral_id)
    return _earliest(state, ref, "", "diagnosed_on", payload.diagnosed_on)


@_apply.register
def _referral_closed(payload: ReferralClosed, state: PersonState, event: Envelope) -> PersonState:
    ref = (event.source_org, payload.referral_id)
    known = state.referrals.get(ref)
    if known is None:
        closed = Referral(payload.pathway, closed_on=payload.closed_on)
    else:
        closed = evolve(known, closed_on=payload.closed_on)
    return evolve(state, referrals=_put(state.referrals, ref, closed))


@_apply.register
def _ap_commissioned(
    payload: PlacementCommissioned, state: PersonState, event: Envelope
) -> PersonState:
    known = state.placements.get(payload.placement_id, _NO_PLACEMENT)
    placement = evolve(
        known,
        la_code=event.source_org,
        provider=known.provider or payload.provider,
        tier=known.tier or payload.tier,
    )
    return evolve(state, placements=_put(state.placements, payload.placement_id, placement))


@_apply.register
def _ap_started(payload: PlacementStarted, state: PersonState, event: Envelope) -> PersonState:
    known = state.placements.get(payload.placement_id, _NO_PLACEMENT)
    placement = evolve(
        known,
        la_code=known.la_code or payload.commissioned_by,
        provider=event.source_org,
        tier=payload.tier,
        part_time=payload.part_time,
        started_on=payload.started_on,
    )
    return evolve(state, placements=_put(state.placements, payload.placement_id, placement))


@_apply.register
def _ap_ended(payload: PlacementEnded, state: PersonState, event: Envelope) -> PersonState:
    known = state.placements.get(payload.placement_id, _NO_PLACEMENT)
    ended = evolve(known, ended_on=payload.ended_on, outcome=payload.outcome)
    return evolve(state, placements=_put(state.placements, payload.placement_id, ended))


@_apply.register
def _timetable_started(
    payload: PartTimeTimetableStarted, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.timetable_id)
    known = state.timetables.get(ref, _NO_TIMETABLE)
    timetable = evolve(known, started_on=payload.started_on)
    return evolve(state, timetables=_put(state.timetables, ref, timetable))


@_apply.register
def _timetable_ended(
    payload: PartTimeTimetableEnded, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.timetable_id)
    known = state.timetables.get(ref, _NO_TIMETABLE)
    return evolve(
        state, timetables=_put(state.timetables, ref, evolve(known, ended_on=payload.ended_on))
    )


def _ld_register(payload: DiagnosisRecorded, state: PersonState, event: Envelope) -> PersonState:
    """A learning-disability diagnosis puts the person on the LD register (indicators 8, 10)."""
    ref = (event.source_org, payload.diagnosis_id)
    if payload.condition != "learning_disability":
        if ref not in state.ld_diagnoses:
            return state  # the dataset counts the LD register only; erased reads as None
        return evolve(state, ld_diagnoses={k: v for k, v in state.ld_diagnoses.items() if k != ref})
    return evolve(state, ld_diagnoses=_put(state.ld_diagnoses, ref, payload.diagnosed_on))


@_apply.register
def _health_check(
    payload: AnnualHealthCheckCompleted, state: PersonState, event: Envelope
) -> PersonState:
    if payload.completed_on in state.health_checks:
        return state
    return evolve(state, health_checks=tuple(sorted((*state.health_checks, payload.completed_on))))


@_apply.register
def _dsr_changed(payload: DsrStatusChanged, state: PersonState, event: Envelope) -> PersonState:
    return evolve(state, dsr=(*state.dsr, (payload.changed_on, payload.status)))


def _mediated(state: PersonState, event: Envelope, case_id: str, step: Mediation) -> PersonState:
    case = (event.source_org, case_id)
    steps = state.mediations.get(case, ())
    if step in steps:
        return state
    return evolve(state, mediations=_put(state.mediations, case, (*steps, step)))


@_apply.register
def _mediation_advice(
    payload: MediationAdviceSought, state: PersonState, event: Envelope
) -> PersonState:
    return _mediated(state, event, payload.case_id, Mediation(payload.sought_on, payload.stage,
                                                              held=False))


@_apply.register
def _mediation_held(payload: MediationHeld, state: PersonState, event: Envelope) -> PersonState:
    step = Mediation(payload.held_on, payload.stage, held=True,
                     agreement_reached=payload.agreement_reached)
    return _mediated(state, event, payload.case_id, step)


@_apply.register
def _appeal_registered(
    payload: AppealRegistered, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.appeal_id)
    known = state.appeals.get(ref) or Appeal(payload.case_id)
    appeal = evolve(known, stage=payload.stage, registered_on=payload.registered_on)
    return evolve(state, appeals=_put(state.appeals, ref, appeal))


@_apply.register
def _appeal_decided(payload: AppealDecided, state: PersonState, event: Envelope) -> PersonState:
    ref = (event.source_org, payload.appeal_id)
    known = state.appeals.get(ref) or Appeal(payload.case_id)
    appeal = evolve(known, decided_on=payload.decided_on, outcome=payload.outcome)
    return evolve(state, appeals=_put(state.appeals, ref, appeal))


_NO_COMPLAINT = Complaint()


@_apply.register
def _complaint_received(
    payload: ComplaintReceived, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.complaint_id)
    known = state.complaints.get(ref, _NO_COMPLAINT)
    complaint = evolve(known, subject=payload.subject, received_on=payload.received_on)
    return evolve(state, complaints=_put(state.complaints, ref, complaint))


@_apply.register
def _complaint_resolved(
    payload: ComplaintResolved, state: PersonState, event: Envelope
) -> PersonState:
    ref = (event.source_org, payload.complaint_id)
    known = state.complaints.get(ref, _NO_COMPLAINT)
    complaint = evolve(known, resolved_on=payload.resolved_on, outcome=payload.outcome)
    return evolve(state, complaints=_put(state.complaints, ref, complaint))
