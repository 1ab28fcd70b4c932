"""The tracker's fold: one person's events → the dated facts their milestones are judged on. Pure.

Only facts are stored, never a RAG status: the status depends on the day it is asked about
(`status.py`), so the same events give a different picture on a different day. Every fact
keeps its date so that, as of a given day, only what had been done by then counts.

Plans and the person's LA come from the dataset's fold (`projections.dataset.fold`), so both
read models agree on who maintains a plan; events are folded in the same history order. The
fold is incremental (`TrackerState`, `apply`): the store keeps a person's state between batches
and steps it with an event that sorts after their last one (`projections.readmodel.derivation`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce, singledispatch

from contracts import Envelope, Payload
from contracts.ehc import AnnualReviewHeld
from contracts.health import (
    AdultServicesReferralAccepted,
    AnnualHealthCheckCompleted,
    CareSummaryUpdated,
    DiagnosisRecorded,
    DsrStatusChanged,
    TransferredToAdultServices,
)
from contracts.provider import Post16DestinationConfirmed
from contracts.transition import (
    NamedWorkerAssigned,
    TransitionAssessmentCompleted,
    TransitionPlanAgreed,
)
from projections.dataset.facts import home_la
from projections.dataset.fold import PersonState, evolve, history_order
from projections.dataset.fold import apply as dataset_apply
from projections.dataset.registrations import birth_month_of


@dataclass(frozen=True)
class PlanSpell:
    la_code: str
    issued_on: date
    ceased_on: date | None
    primary_need: str


@dataclass(frozen=True)
class Dated:
    """Something done on a day by an organisation (with a flag where the event has one)."""

    on: date
    org: str
    detail: str = ""


@dataclass(frozen=True)
class AdultReferral:
    accepted_on: date
    org: str
    agreed_transfer_on: date | None


@dataclass(frozen=True)
class TrackerFacts:
    birth_month: str | None = None
    """By the read models' rule (`projections.dataset.registrations.birth_month_of`): the
    responsible LA's registration, else the earliest one that still has a birth month."""
    la_code: str | None = None
    health_org: str | None = None
    """The health organisation that last published about the person."""
    plans: tuple[PlanSpell, ...] = ()
    post16_amendments: tuple[date, ...] = ()
    diagnoses: tuple[Dated, ...] = ()
    """detail: the condition (autism, adhd, learning_disability); "" once the person is erased
    (`condition` is a sealed personal field). Without a birth month (erased too) a person is
    never in the tracker: their age cannot be known."""
    pfa_reviews: tuple[date, ...] = ()
    named_workers: tuple[Dated, ...] = ()
    transition_plans: tuple[date, ...] = ()
    health_checks: tuple[date, ...] = ()
    care_summaries: tuple[Dated, ...] = ()
    """detail: "complex" when the summary records complex health needs."""
    dsr: tuple[Dated, ...] = ()
    """detail: the register status (red, amber, green, removed)."""
    asc_assessments: tuple[date, ...] = ()
    adult_referrals: tuple[AdultReferral, ...] = ()
    transfers: tuple[Dated, ...] = ()
    """detail: the receiving organisation, when known."""
    destinations: tuple[Dated, ...] = ()
    """on: confirmed; detail: the ISO date the young person moves on."""

    @property
    def relevant(self) -> bool:
        """Could ever be in the tracker: has a plan, or a learning disability/autism diagnosis."""
        return bool(self.plans) or any(
            d.detail in ("learning_disability", "autism") for d in self.diagnoses
        )


@dataclass(frozen=True)
class TrackerState:
    """A person's fold state: the tracker's own facts and the dataset's state (plans, LA)."""

    tracked: TrackerFacts = TrackerFacts()
    dataset: PersonState = PersonState()


EMPTY = TrackerState()


def apply(state: TrackerState, event: Envelope) -> TrackerState:
    """One more event, in history order. A state the event does not change is returned as it
    is (the store then knows at once that no row changed)."""
    payload = event.payload
    handler = _HANDLERS.get(payload.__class__) or _handler(payload.__class__)
    tracked = handler(payload, state.tracked, event)
    dataset = dataset_apply(state.dataset, event)
    if tracked is state.tracked and dataset is state.dataset:
        return state
    return evolve(state, tracked=tracked, dataset=dataset)


def facts_of(state: TrackerState) -> TrackerFacts:
    """The tracker facts of a folded state: plans, LA and post-16 amendments from the dataset."""
    dataset = state.dataset
    la = home_la(dataset)
    return evolve(
        state.tracked,
        birth_month=birth_month_of(dataset.birth_months, la),
        la_code=la,
        plans=_plans(dataset),
        post16_amendments=tuple(
            sorted(
                a.amended_on
                for amended in dataset.amendments.values()
                for a in amended
                if a.trigger == "post16_transfer"
            )
        ),
    )


def tracker_facts(history: Sequence[Envelope]) -> TrackerFacts:
    """A person's tracker facts from their events in any order, duplicates ignored."""
    unique = sorted({str(e.event_id): e for e in history}.values(), key=history_order)
    return facts_of(reduce(apply, unique, EMPTY))


def _plans(state: PersonState) -> tuple[PlanSpell, ...]:
    return tuple(
        PlanSpell(la, plan.issued_on, state.ceased.get((la, plan_id)), plan.primary_need)
        for (la, plan_id), plan in sorted(state.plans.items())
    )


def _add(
    facts: TrackerFacts, name: str, item: object, *, health: str | None = None
) -> TrackerFacts:
    changed = evolve(facts, **{name: (*getattr(facts, name), item)})
    return evolve(changed, health_org=health) if health else changed


@singledispatch
def _apply(payload: Payload, facts: TrackerFacts, event: Envelope) -> TrackerFacts:
    return facts


Handler = Callable[[Payload, TrackerFacts, Envelope], TrackerFacts]
_HANDLERS: dict[type, Handler] = {}
"""`_apply`'s handler per payload class, looked up once (as in `projections.dataset.fold`)."""


def _handler(payload_class: type) -> Handler:
    handler = _HANDLERS[payload_class] = _apply.dispatch(payload_class)
    return handler


@_apply.register
def _diagnosed(payload: DiagnosisRecorded, facts: TrackerFacts, event: Envelope) -> TrackerFacts:
    diagnosis = Dated(payload.diagnosed_on, event.source_org, payload.condition or "")
    return _add(facts, "diagnoses", diagnosis, health=event.source_org)


@_apply.register
def _reviewed(payload: AnnualReviewHeld, facts: TrackerFacts, event: Envelope) -> TrackerFacts:
    return _add(facts, "pfa_reviews", payload.held_on) if payload.preparing_for_adulthood else facts


@_apply.register
def _named_worker(
    payload: NamedWorkerAssigned, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    return _add(facts, "named_workers", Dated(payload.assigned_on, event.source_org))


@_apply.register
def _plan_agreed(
    payload: TransitionPlanAgreed, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    return _add(facts, "transition_plans", payload.agreed_on)


@_apply.register
def _health_check(
    payload: AnnualHealthCheckCompleted, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    return _add(facts, "health_checks", payload.completed_on, health=event.source_org)


@_apply.register
def _care_summary(
    payload: CareSummaryUpdated, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    summary = Dated(
        payload.updated_on, event.source_org, "complex" if payload.complex_health_needs else ""
    )
    return _add(facts, "care_summaries", summary, health=event.source_org)


@_apply.register
def _dsr(payload: DsrStatusChanged, facts: TrackerFacts, event: Envelope) -> TrackerFacts:
    return _add(
        facts,
        "dsr",
        Dated(payload.changed_on, event.source_org, payload.status),
        health=event.source_org,
    )


@_apply.register
def _asc(
    payload: TransitionAssessmentCompleted, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    return _add(facts, "asc_assessments", payload.completed_on)


@_apply.register
def _adult_referral(
    payload: AdultServicesReferralAccepted, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    referral = AdultReferral(payload.accepted_on, event.source_org, payload.agreed_transfer_on)
    return _add(facts, "adult_referrals", referral, health=event.source_org)


@_apply.register
def _transferred(
    payload: TransferredToAdultServices, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    transfer = Dated(payload.transferred_on, event.source_org, payload.receiving_org or "")
    return _add(facts, "transfers", transfer)


@_apply.register
def _destination(
    payload: Post16DestinationConfirmed, facts: TrackerFacts, event: Envelope
) -> TrackerFacts:
    destination = Dated(payload.confirmed_on, event.source_org, payload.moves_on.isoformat())
    return _add(facts, "destinations", destination)
