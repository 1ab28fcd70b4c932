"""`disagreement.*`: what SEN2 records about disagreement, and complaints, with their resolution.

SEN2 records, per request, assessment and plan, whether mediation advice was sought, whether
mediation took place and whether an appeal to the First-tier Tribunal (SEND) was registered,
with its outcome (Children and Families Act 2014 s.51-55; SEND Regulations 2014 reg. 32-42).
Mediation and appeals are the LA's (it is the party to them) and name its case; complaints
are received by the LA, and by the ICB or an NHS trust about health provision, each under its
own reference. Seeds ask for "reduced mediation and tribunal activity" (002) and "complaints
and Tribunal information to inform future commissioning" (004).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.registry import event
from contracts.vocab import LocalId

DisagreementStage = Literal["request", "assessment", "plan"]
"""SEN2's three points of disagreement: a decision not to assess (request), not to issue a
plan (assessment), or the plan's contents, amendment or ceasing (plan)."""

AppealOutcome = Literal["upheld", "partly_upheld", "dismissed", "withdrawn", "conceded"]
"""How a tribunal appeal ended: decided for the appellant (upheld, in whole or in part) or
for the LA (dismissed), or not decided by the tribunal (withdrawn by the appellant, conceded
by the LA before the hearing)."""

ComplaintSubject = Literal[
    "ehc_process", "education_provision", "health_provision", "social_care_provision", "other"
]
"""What a complaint is about."""

ComplaintOutcome = Literal["upheld", "partly_upheld", "not_upheld", "withdrawn"]


def _example(**fields: object) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@event("disagreement.mediation_advice_sought")
class MediationAdviceSought(Payload):
    """A parent or young person contacted the mediation adviser about an LA decision."""

    model_config = _example(case_id="856-C-000123", sought_on="2025-03-10", stage="request")

    case_id: LocalId = Field(description="The LA's case the disagreement is about.")
    sought_on: date = Field(description="Date mediation advice was sought.")
    stage: DisagreementStage = Field(description="The decision disagreed with (SEN2 stage).")


@event("disagreement.mediation_held")
class MediationHeld(Payload):
    """A mediation took place (within 30 days of the LA being told: SEND Regulations reg. 37)."""

    model_config = _example(
        case_id="856-C-000123", held_on="2025-04-02", stage="request", agreement_reached=False
    )

    case_id: LocalId = Field(description="The LA's case the disagreement is about.")
    held_on: date = Field(description="Date the mediation took place.")
    stage: DisagreementStage = Field(description="The decision disagreed with (SEN2 stage).")
    agreement_reached: bool = Field(description="The mediation ended in agreement.")


@event("disagreement.appeal_registered")
class AppealRegistered(Payload):
    """An appeal to the First-tier Tribunal (SEND) against the LA's decision was registered."""

    model_config = _example(
        case_id="856-C-000123", appeal_id="856-T-0042", registered_on="2025-05-06",
        stage="request",
    )

    case_id: LocalId = Field(description="The LA's case the appeal is about.")
    appeal_id: LocalId = Field(description="The LA's reference for the appeal.")
    registered_on: date = Field(description="Date the tribunal registered the appeal.")
    stage: DisagreementStage = Field(description="The decision appealed against (SEN2 stage).")


@event("disagreement.appeal_decided")
class AppealDecided(Payload):
    """A tribunal appeal ended: decided by the tribunal, withdrawn or conceded."""

    model_config = _example(
        case_id="856-C-000123", appeal_id="856-T-0042", decided_on="2025-10-14",
        outcome="upheld",
    )

    case_id: LocalId = Field(description="The LA's case the appeal is about.")
    appeal_id: LocalId = Field(description="The appeal, as registered.")
    decided_on: date = Field(description="Date of the decision, withdrawal or concession.")
    outcome: AppealOutcome = Field(description="How the appeal ended.")


@event("disagreement.complaint_received")
class ComplaintReceived(Payload):
    """A complaint about SEND services was received by the publishing organisation."""

    model_config = _example(
        complaint_id="856-K-0007", received_on="2025-02-03", subject="ehc_process"
    )

    complaint_id: LocalId = Field(description="The publisher's reference for the complaint.")
    received_on: date = Field(description="Date the complaint was received.")
    subject: ComplaintSubject = Field(description="What the complaint is about.")


@event("disagreement.complaint_resolved")
class ComplaintResolved(Payload):
    """A complaint was responded to and closed at the publisher's final stage."""

    model_config = _example(
        complaint_id="856-K-0007", resolved_on="2025-03-14", outcome="partly_upheld"
    )

    complaint_id: LocalId = Field(description="The complaint, as received.")
    resolved_on: date = Field(description="Date the final response was sent.")
    outcome: ComplaintOutcome = Field(description="The finding of the final response.")
