"""`transition.*` and `adult_social_care.*`: preparing for adulthood from 14.

Sources: NICE NG43 (transition to adult services) and the Care Act 2014 s.58-59.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.registry import event
from contracts.vocab import OrgCode

PARTNERS_MAX = 50
"""Organisations one transition plan can name: bounded, so an event always fits a message."""

WorkerRole = Literal["send_officer", "social_worker", "health_transition_worker", "other"]


@event("transition.named_worker_assigned")
class NamedWorkerAssigned(Payload):
    """A named worker now coordinates this young person's transition (due by age 14)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"assigned_on": "2025-09-01", "worker_role": "send_officer"}]
        }
    )

    assigned_on: date = Field(description="Date the named worker took on the young person.")
    worker_role: WorkerRole = Field(description="The named worker's role (NICE NG43 1.2.7).")


@event("transition.plan_agreed")
class TransitionPlanAgreed(Payload):
    """A multi-agency, personalised transition plan was agreed (due by age 15)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"agreed_on": "2026-03-02", "partners": ["856", "QK1"]}]}
    )

    agreed_on: date = Field(description="Date the partners agreed the transition plan.")
    partners: list[OrgCode] = Field(
        default_factory=list,
        max_length=PARTNERS_MAX,
        description="Organisations that agreed the plan with the publisher.",
    )


@event("adult_social_care.transition_assessment_completed")
class TransitionAssessmentCompleted(Payload):
    """A Care Act transition assessment was completed (due by 17 if likely needs after 18)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"completed_on": "2028-10-05", "likely_eligible_needs": True}]
        }
    )

    completed_on: date = Field(description="Date the Care Act transition assessment was completed.")
    likely_eligible_needs: bool = Field(
        description="The young person is likely to have eligible care and support needs after 18."
    )
