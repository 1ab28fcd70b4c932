"""The shared dataset's fold: one person's events → what the partnership knows about them. Pure.

Why per person, re-folded in history order. Events reach the bus out of order across
organisations (the ICB's flag may land before the LA's plan; a relay may replay events after
a crash) and may be duplicated. Rather than make every handler commutative, the store keeps
each person's events (deduplicated by event id) and, whenever a batch touches a person,
re-folds *all* of that person's events sorted by `history_order` — (occurred_at, recorded_at,
event_id), a total and deterministic order. So the stored state of a person is, by
construction, exactly `fold_person(their events)`, whatever order or how many times the
events arrived; indicators are queries over the facts derived from these states
(`facts.py`). The cost is bounded by one person's history (tens of events), not the stream.

The handlers below are dispatched on the payload class (`functools.singledispatch`); events the
dataset does not use leave the state unchanged. State is immutable: each handler returns a new
`PersonState` (mappings are copied, never mutated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import reduce, singledispatch

from contracts import Envelope, Payload
from contracts.ehc import AssessmentRequested, PlanCeased, PlanIssued
from contracts.health import EhcPlanFlagCleared, EhcPlanFlagSet

CaseRef = tuple[str, str]
"""(LA code, the LA's case id): a case id is only unique within its LA."""
PlanRef = tuple[str, str]
"""(LA code, the LA's plan id)."""


@dataclass(frozen=True)
class IssuedPlan:
    case_id: str
    issued_on: date
    primary_need: str
    exception: str | None


@dataclass(frozen=True)
class FlagSpell:
    """A period during which the health record marks the person as having a plan from an LA."""

    set_on: date
    cleared_on: date | None = None


@dataclass(frozen=True)
class PersonState:
    requests: Mapping[CaseRef, date] = field(default_factory=dict)
    plans: Mapping[PlanRef, IssuedPlan] = field(default_factory=dict)
    ceased: Mapping[PlanRef, date] = field(default_factory=dict)
    health_flags: Mapping[str, tuple[FlagSpell, ...]] = field(default_factory=dict)
    """Spells per LA code named by the health record, oldest first."""


EMPTY = PersonState()


def history_order(event: Envelope) -> tuple[datetime, datetime, str]:
    """The order the dataset folds a person's events in: when it happened, then tie-breaks."""
    return (event.occurred_at, event.recorded_at, str(event.event_id))


def apply(state: PersonState, event: Envelope) -> PersonState:
    return _apply(event.payload, state, event)


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


@singledispatch
def _apply(payload: Payload, state: PersonState, event: Envelope) -> PersonState:
    return state


@_apply.register
def _request_received(
    payload: AssessmentRequested, state: PersonState, event: Envelope
) -> PersonState:
    case = (event.source_org, payload.case_id)
    return replace(state, requests={**state.requests, case: payload.requested_on})


@_apply.register
def _plan_issued(payload: PlanIssued, state: PersonState, event: Envelope) -> PersonState:
    plan = IssuedPlan(
        case_id=payload.case_id,
        issued_on=payload.issued_on,
        primary_need=payload.primary_need,
        exception=payload.exception,
    )
    return replace(state, plans={**state.plans, (event.source_org, payload.plan_id): plan})


@_apply.register
def _plan_ceased(payload: PlanCeased, state: PersonState, event: Envelope) -> PersonState:
    plan = (event.source_org, payload.plan_id)
    return replace(state, ceased={**state.ceased, plan: payload.ceased_on})


@_apply.register
def _health_flag_set(payload: EhcPlanFlagSet, state: PersonState, event: Envelope) -> PersonState:
    spells = state.health_flags.get(payload.la_code, ())
    if spells and spells[-1].cleared_on is None:
        return state  # already flagged: a repeated set changes nothing
    flagged = (*spells, FlagSpell(set_on=payload.set_on))
    return replace(state, health_flags={**state.health_flags, payload.la_code: flagged})


@_apply.register
def _health_flag_cleared(
    payload: EhcPlanFlagCleared, state: PersonState, event: Envelope
) -> PersonState:
    spells = state.health_flags.get(payload.la_code, ())
    if not spells or spells[-1].cleared_on is not None:
        return state  # nothing open to clear
    closed = (*spells[:-1], replace(spells[-1], cleared_on=payload.cleared_on))
    return replace(state, health_flags={**state.health_flags, payload.la_code: closed})
