"""Stored LA events -> shared contract events: pseudonymised and minimised on the way out.

The person is named only by the partnership's keyed pseudonym of their NHS number; the date
of birth leaves as a year-month; names never leave. Every event of a non-bookkeeping LA
aggregate is shared (the reply to a command lists their ids before the relay publishes them).

A case's later events carry neither the LA's case reference nor the plan id, so the translator
remembers them from the events it has passed (`AssessmentRequested`, `PlanIssued`) and reads the
case from the store only on a miss (`services.sharing.translation` explains why).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple
from uuid import UUID

from cachetools import LRUCache

from contracts import ap, ehc, transition
from contracts.envelope import Envelope, Payload
from services.domain.people import RegisteredPerson
from services.la.application import LaApplication
from services.la.domain import EhcCase
from services.la.people import ApPlacement, Person
from services.sharing.relay import Stamp
from services.sharing.translation import (
    REMEMBERED,
    Translator,
    on,
    person_erased,
    person_registered,
)


class CaseRefs(NamedTuple):
    """The LA's references of the case an event belongs to (they never change once set)."""

    case_id: str
    plan_id: str | None


Build = Callable[[Any, Any], tuple[Payload, date | None]]
"""(stored event, the case's references if a case event) -> (payload, the date it happened)."""

_BUILDERS: dict[type, Build] = {
    Person.Registered: lambda e, _: person_registered(e),
    RegisteredPerson.Erased: lambda e, _: person_erased(e),
    Person.NamedWorkerAssigned: lambda e, _: (
        transition.NamedWorkerAssigned(assigned_on=e.assigned_on, worker_role=e.worker_role),
        e.assigned_on,
    ),
    Person.TransitionPlanAgreed: lambda e, _: (
        transition.TransitionPlanAgreed(agreed_on=e.agreed_on, partners=e.partners),
        e.agreed_on,
    ),
    Person.TransitionAssessmentCompleted: lambda e, _: (
        transition.TransitionAssessmentCompleted(
            completed_on=e.completed_on, likely_eligible_needs=e.likely_eligible_needs
        ),
        e.completed_on,
    ),
    ApPlacement.PlacementCommissioned: lambda e, _: (
        ap.PlacementCommissioned(
            placement_id=e.placement_id,
            commissioned_on=e.commissioned_on,
            provider=e.provider,
            tier=e.tier,
            reason=e.reason,
        ),
        e.commissioned_on,
    ),
    EhcCase.AssessmentRequested: lambda e, _: (
        ehc.AssessmentRequested(
            case_id=e.case_id, requested_on=e.requested_on, requested_by=e.requested_by
        ),
        e.requested_on,
    ),
    EhcCase.AssessmentDecided: lambda e, case: (
        ehc.AssessmentDecided(case_id=case.case_id, decided_on=e.decided_on, decision=e.decision),
        e.decided_on,
    ),
    EhcCase.AdviceRequested: lambda e, case: (
        ehc.AdviceRequested(
            case_id=case.case_id,
            advice_request_id=e.advice_request_id,
            requested_on=e.requested_on,
            advice_giver=e.advice_giver,
            requested_from=e.requested_from,
        ),
        e.requested_on,
    ),
    EhcCase.PlanIssued: lambda e, case: (
        ehc.PlanIssued(
            case_id=case.case_id,
            plan_id=e.plan_id,
            issued_on=e.issued_on,
            primary_need=e.primary_need,
            placement=e.placement,
            placement_provider=e.placement_provider,
            exception=e.exception,
        ),
        e.issued_on,
    ),
    EhcCase.PlanNotIssued: lambda e, case: (
        ehc.PlanNotIssued(case_id=case.case_id, decided_on=e.decided_on, reason=e.reason),
        e.decided_on,
    ),
    EhcCase.AnnualReviewHeld: lambda e, case: (
        ehc.AnnualReviewHeld(
            plan_id=case.plan_id,
            held_on=e.held_on,
            preparing_for_adulthood=e.preparing_for_adulthood,
        ),
        e.held_on,
    ),
    EhcCase.ReviewOutcomeDecided: lambda e, case: (
        ehc.ReviewOutcome(
            plan_id=case.plan_id,
            review_held_on=e.review_held_on,
            decided_on=e.decided_on,
            outcome=e.outcome,
        ),
        e.decided_on,
    ),
    EhcCase.PlanAmended: lambda e, case: (
        ehc.PlanAmended(
            plan_id=case.plan_id,
            amended_on=e.amended_on,
            trigger=e.trigger,
            review_held_on=e.review_held_on,
        ),
        e.amended_on,
    ),
    EhcCase.PlanCeased: lambda e, case: (
        ehc.PlanCeased(plan_id=case.plan_id, ceased_on=e.ceased_on, reason=e.reason),
        e.ceased_on,
    ),
}

_CASE_EVENTS = {
    EhcCase.AssessmentDecided,
    EhcCase.AdviceRequested,
    EhcCase.PlanIssued,
    EhcCase.PlanNotIssued,
    EhcCase.AnnualReviewHeld,
    EhcCase.ReviewOutcomeDecided,
    EhcCase.PlanAmended,
    EhcCase.PlanCeased,
}


class LaContract(Translator):
    """The LA's translate function for the relay: the partnership key and what it has learnt."""

    def __init__(
        self, app: LaApplication, partnership_key: bytes, *, remember: int = REMEMBERED
    ) -> None:
        super().__init__(app, partnership_key, remember=remember)
        self._cases: LRUCache[UUID, CaseRefs] = LRUCache(maxsize=remember)

    def learn(self, event: Any) -> None:
        super().learn(event)
        if isinstance(event, EhcCase.AssessmentRequested):
            self._cases[event.originator_id] = CaseRefs(event.case_id, None)
        elif isinstance(event, EhcCase.PlanIssued):
            case_id = self.case_refs(event.originator_id).case_id
            self._cases[event.originator_id] = CaseRefs(case_id, event.plan_id)

    def case_refs(self, case_id: UUID) -> CaseRefs:
        """The case's references: learnt, or read from the store (a plan issued since shows)."""
        refs = self._cases.get(case_id)
        if refs is None:
            case: EhcCase = self.app.repository.get(case_id)
            refs = self._cases[case_id] = CaseRefs(case.case_id, case.plan_id)
        return refs

    def __call__(self, event: Any, stamp: Stamp) -> Envelope | None:
        build = _BUILDERS.get(type(event))
        if build is None:
            return None  # bookkeeping: stored, never shared
        self.learn(event)
        refs = self.case_refs(event.originator_id) if type(event) in _CASE_EVENTS else None
        payload, happened_on = build(event, refs)
        return stamp.wrap(
            payload,
            person_key=self.person_key(event.originator_id),
            occurred_at=on(happened_on) if happened_on else event.timestamp,
            correlation_id=event.originator_id,
        )
