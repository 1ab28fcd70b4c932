"""Stored LA events -> shared contract events: pseudonymised and minimised on the way out.

The person is named only by the partnership's keyed pseudonym of their NHS number; the date
of birth leaves as a year-month; names never leave. Every event of a non-bookkeeping LA
aggregate is shared (the reply to a command lists their ids before the relay publishes them).

A case's later events carry neither the LA's case reference nor the plan id, so the translator
remembers them from the events it has passed (`AssessmentRequested`, `PlanIssued`) and reads the
case from the store only on a miss (`services.sharing.translation` explains why).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from cachetools import LRUCache

from contracts import ap, disagreement, ehc, transition
from services.la.application import LaApplication
from services.la.domain import EhcCase
from services.la.people import ApPlacement, Person
from services.sharing.translation import (
    COMPLAINTS,
    REMEMBERED,
    Build,
    Copy,
    Translator,
    kind_builders,
)


class CaseRefs(NamedTuple):
    """The LA's references of the case an event belongs to (they never change once set)."""

    case_id: str
    plan_id: str | None


CASE = ("case_id", "plan_id")
"""What a case's later events leave to the translator (`CaseRefs`)."""

BUILDERS: dict[type, Build] = kind_builders(
    Person,
    Copy(Person.NamedWorkerAssigned, transition.NamedWorkerAssigned, "assigned_on"),
    Copy(Person.TransitionPlanAgreed, transition.TransitionPlanAgreed, "agreed_on"),
    Copy(
        Person.TransitionAssessmentCompleted, transition.TransitionAssessmentCompleted,
        "completed_on",
    ),
    Copy(ApPlacement.PlacementCommissioned, ap.PlacementCommissioned, "commissioned_on"),
    Copy(EhcCase.AssessmentRequested, ehc.AssessmentRequested, "requested_on"),
    Copy(EhcCase.AssessmentDecided, ehc.AssessmentDecided, "decided_on", CASE),
    Copy(EhcCase.AdviceRequested, ehc.AdviceRequested, "requested_on", CASE),
    Copy(EhcCase.PlanIssued, ehc.PlanIssued, "issued_on", CASE),
    Copy(EhcCase.PlanInForceRecorded, ehc.PlanInForceRecorded, "issued_on"),
    Copy(EhcCase.AssessmentStepRecorded, ehc.AssessmentStepRecorded, "requested_on"),
    Copy(EhcCase.PlanNotIssued, ehc.PlanNotIssued, "decided_on", CASE),
    Copy(EhcCase.AnnualReviewHeld, ehc.AnnualReviewHeld, "held_on", CASE),
    Copy(EhcCase.ReviewOutcomeDecided, ehc.ReviewOutcome, "decided_on", CASE),
    Copy(EhcCase.PlanAmended, ehc.PlanAmended, "amended_on", CASE),
    Copy(EhcCase.PlanCeased, ehc.PlanCeased, "ceased_on", CASE),
    Copy(
        EhcCase.MediationAdviceSought, disagreement.MediationAdviceSought, "sought_on", CASE
    ),
    Copy(EhcCase.MediationHeld, disagreement.MediationHeld, "held_on", CASE),
    Copy(EhcCase.AppealRegistered, disagreement.AppealRegistered, "registered_on", CASE),
    Copy(EhcCase.AppealDecided, disagreement.AppealDecided, "decided_on", CASE),
    *COMPLAINTS,
)

_CASE_EVENTS = frozenset(
    stored for stored, build in BUILDERS.items() if isinstance(build, Copy) and build.known
)
"""The events whose builder needs the case's references."""


class LaContract(Translator):
    """The LA's translate function for the relay: the partnership key and what it has learnt."""

    builders: ClassVar[dict[type, Build]] = BUILDERS

    def __init__(
        self, app: LaApplication, partnership_key: bytes, *, remember: int = REMEMBERED
    ) -> None:
        super().__init__(app, partnership_key, remember=remember)
        self._cases: LRUCache[UUID, CaseRefs] = LRUCache(maxsize=remember)

    def learn(self, event: Any) -> None:
        super().learn(event)
        if isinstance(event, EhcCase.AssessmentRequested | EhcCase.AssessmentStepRecorded):
            self._cases[event.originator_id] = CaseRefs(event.case_id, None)
        elif isinstance(event, EhcCase.PlanInForceRecorded):
            self._cases[event.originator_id] = CaseRefs(event.case_id, event.plan_id)
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

    def known(self, event: Any) -> CaseRefs | None:
        return self.case_refs(event.originator_id) if type(event) in _CASE_EVENTS else None
