"""The LA's people: who it holds a record for, their transition milestones, commissioned AP.

Raw identifiers (NHS number, name, full date of birth) live here and stay in the LA's store;
the contract translation shares a pseudonym and the birth month. No I/O.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from services.domain.aggregates import Aggregate, reference_id
from services.domain.people import RegisteredPerson


class Person(RegisteredPerson):
    """A child or young person the LA holds a record for (registration:
    `services.domain.people`)."""

    org_label = "LA "

    def start_record(self) -> None:
        self.named_worker_assigned_on: date | None = None
        self.transition_plan_agreed_on: date | None = None

    def assign_named_worker(self, *, assigned_on: date, worker_role: str) -> None:
        self.not_before_birth("transition.named_worker_assigned", "assigned_on", assigned_on)
        self._named_worker_assigned(assigned_on=assigned_on, worker_role=worker_role)

    @event("NamedWorkerAssigned")
    def _named_worker_assigned(self, assigned_on: date, worker_role: str) -> None:
        self.named_worker_assigned_on = assigned_on

    def agree_transition_plan(self, *, agreed_on: date, partners: list[str]) -> None:
        self.not_before_birth("transition.plan_agreed", "agreed_on", agreed_on)
        self._transition_plan_agreed(agreed_on=agreed_on, partners=list(partners))

    @event("TransitionPlanAgreed")
    def _transition_plan_agreed(self, agreed_on: date, partners: list[str]) -> None:
        self.transition_plan_agreed_on = agreed_on

    def complete_transition_assessment(
        self, *, completed_on: date, likely_eligible_needs: bool
    ) -> None:
        self.not_before_birth(
            "adult_social_care.transition_assessment_completed", "completed_on", completed_on
        )
        self._transition_assessment_completed(
            completed_on=completed_on, likely_eligible_needs=likely_eligible_needs
        )

    @event("TransitionAssessmentCompleted")
    def _transition_assessment_completed(
        self, completed_on: date, likely_eligible_needs: bool
    ) -> None:
        self.transition_assessment_completed_on = completed_on


class ApPlacement(Aggregate):
    """An alternative provision placement the LA commissioned from a provider."""

    @staticmethod
    def create_id(org: str, placement_id: str) -> UUID:
        return reference_id(org, "ap", placement_id)

    @event("PlacementCommissioned")
    def __init__(
        self,
        org: str,
        placement_id: str,
        person_id: UUID,
        commissioned_on: date,
        provider: str,
        tier: int,
        reason: str,
    ) -> None:
        self.placement_id = placement_id
        self.person_id = person_id
        self.commissioned_on = commissioned_on
        self.provider = provider
        self.tier = tier
        self.reason = reason
