"""What partner systems may ask the LA service to record: one model per command.

Field names follow the contract events they produce (`contracts/ehc.py`, ...), so a partner's
extract maps one-to-one; the code lists (decision, primary need, ...) are the contract's own.
A command may also be named by the event type it produces (`ehc.plan_issued`).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BeforeValidator, Field, model_validator

from contracts import ap, disagreement, ehc, transition
from contracts.constraints import EventDate
from contracts.provenance import SourceSystem
from contracts.vocab import AdviceGiver, LocalId, OrgCode, PrimaryNeed
from services.domain.command import ApTier, Command, NhsNumber
from services.domain.complaints import COMPLAINT_COMMANDS
from services.domain.people import ErasePerson, RegisterPerson


def _split_list(value: object) -> object:
    """CSV cells hold lists as `856;QK1` (or spaces/commas); JSON sends a real list."""
    if isinstance(value, str):
        return [part for part in value.replace(",", ";").replace(" ", ";").split(";") if part]
    return value


OrgCodes = Annotated[
    list[OrgCode], BeforeValidator(_split_list), Field(max_length=transition.PARTNERS_MAX)
]


class RequestAssessment(Command):
    name = "ehc.request_assessment"
    aliases = ("ehc.assessment_requested",)

    nhs_number: NhsNumber
    case_id: LocalId
    requested_on: EventDate
    requested_by: ehc.RequestedBy


class DecideAssessment(Command):
    name = "ehc.decide_assessment"
    aliases = ("ehc.assessment_decided",)

    case_id: LocalId
    decided_on: EventDate
    decision: ehc.AssessmentDecision


class RequestAdvice(Command):
    name = "ehc.request_advice"
    aliases = ("ehc.advice_requested",)

    case_id: LocalId
    advice_request_id: LocalId
    requested_on: EventDate
    advice_giver: AdviceGiver
    requested_from: OrgCode | None = None


class PlanDetails(Command):
    """What a plan says (`contracts.ehc.PlanDetails`): issued live or in force at go-live."""

    case_id: LocalId
    plan_id: LocalId
    issued_on: EventDate
    primary_need: PrimaryNeed
    placement: ehc.Placement
    placement_provider: OrgCode | None = None
    exception: ehc.TimescaleException | None = None


class IssuePlan(PlanDetails):
    name = "ehc.issue_plan"
    aliases = ("ehc.plan_issued",)


class RecordPlanInForce(PlanDetails):
    """Go-live: a plan the LA already maintains, recorded from its existing system without
    inventing its request or decision (shared as `ehc.plan_in_force_recorded`)."""

    name = "ehc.record_plan_in_force"
    aliases = ("ehc.plan_in_force_recorded",)

    nhs_number: NhsNumber
    requested_on: EventDate | None = None
    last_reviewed_on: EventDate | None = None
    last_amended_on: EventDate | None = None
    migrated_from: SourceSystem


class RecordAssessmentAtStep(Command):
    """Go-live: an assessment the LA already holds, at the step its system records, with the
    dates it holds (shared as `ehc.assessment_step_recorded`); open ones carry on live."""

    name = "ehc.record_assessment_at_step"
    aliases = ("ehc.assessment_step_recorded",)

    nhs_number: NhsNumber
    case_id: LocalId
    requested_on: EventDate
    requested_by: ehc.RequestedBy | None = None
    step: ehc.AssessmentStep
    decided_on: EventDate | None = None
    not_issued_on: EventDate | None = None
    not_issued_reason: ehc.NotIssuedReason | None = None
    migrated_from: SourceSystem

    @model_validator(mode="after")
    def _dates_of_the_step(self) -> Self:
        refusal = ehc.step_refusal(self)
        if refusal is not None:
            raise ValueError(refusal)
        return self


class DecideNotToIssue(Command):
    name = "ehc.decide_not_to_issue"
    aliases = ("ehc.plan_not_issued",)

    case_id: LocalId
    decided_on: EventDate
    reason: ehc.NotIssuedReason


class HoldAnnualReview(Command):
    name = "ehc.hold_annual_review"
    aliases = ("ehc.annual_review_held",)

    plan_id: LocalId
    held_on: EventDate
    preparing_for_adulthood: bool = False


class DecideReviewOutcome(Command):
    name = "ehc.decide_review_outcome"
    aliases = ("ehc.review_outcome",)

    plan_id: LocalId
    review_held_on: EventDate
    decided_on: EventDate
    outcome: ehc.ReviewDecision


class AmendPlan(Command):
    name = "ehc.amend_plan"
    aliases = ("ehc.plan_amended",)

    plan_id: LocalId
    amended_on: EventDate
    trigger: ehc.AmendmentTrigger
    review_held_on: EventDate | None = None


class CeasePlan(Command):
    name = "ehc.cease_plan"
    aliases = ("ehc.plan_ceased",)

    plan_id: LocalId
    ceased_on: EventDate
    reason: ehc.CeaseReason


class AssignNamedWorker(Command):
    name = "transition.assign_named_worker"
    aliases = ("transition.named_worker_assigned",)

    nhs_number: NhsNumber
    assigned_on: EventDate
    worker_role: transition.WorkerRole


class AgreeTransitionPlan(Command):
    name = "transition.agree_plan"
    aliases = ("transition.plan_agreed",)

    nhs_number: NhsNumber
    agreed_on: EventDate
    partners: OrgCodes = Field(default_factory=list)


class CompleteTransitionAssessment(Command):
    name = "adult_social_care.complete_transition_assessment"
    aliases = ("adult_social_care.transition_assessment_completed",)

    nhs_number: NhsNumber
    completed_on: EventDate
    likely_eligible_needs: bool


class CommissionPlacement(Command):
    name = "ap.commission_placement"
    aliases = ("ap.placement_commissioned",)

    nhs_number: NhsNumber
    placement_id: LocalId
    commissioned_on: EventDate
    provider: OrgCode
    tier: ApTier
    reason: ap.APReason


class SeekMediationAdvice(Command):
    name = "disagreement.seek_mediation_advice"
    aliases = ("disagreement.mediation_advice_sought",)

    case_id: LocalId
    sought_on: EventDate
    stage: disagreement.DisagreementStage


class HoldMediation(Command):
    name = "disagreement.hold_mediation"
    aliases = ("disagreement.mediation_held",)

    case_id: LocalId
    held_on: EventDate
    stage: disagreement.DisagreementStage
    agreement_reached: bool


class RegisterAppeal(Command):
    name = "disagreement.register_appeal"
    aliases = ("disagreement.appeal_registered",)

    case_id: LocalId
    appeal_id: LocalId
    registered_on: EventDate
    stage: disagreement.DisagreementStage


class DecideAppeal(Command):
    name = "disagreement.decide_appeal"
    aliases = ("disagreement.appeal_decided",)

    case_id: LocalId
    appeal_id: LocalId
    decided_on: EventDate
    outcome: disagreement.AppealOutcome


LA_COMMANDS: tuple[type[Command], ...] = (
    RegisterPerson,
    ErasePerson,
    RequestAssessment,
    DecideAssessment,
    RequestAdvice,
    IssuePlan,
    RecordPlanInForce,
    RecordAssessmentAtStep,
    DecideNotToIssue,
    HoldAnnualReview,
    DecideReviewOutcome,
    AmendPlan,
    CeasePlan,
    AssignNamedWorker,
    AgreeTransitionPlan,
    CompleteTransitionAssessment,
    CommissionPlacement,
    SeekMediationAdvice,
    HoldMediation,
    RegisterAppeal,
    DecideAppeal,
    *COMPLAINT_COMMANDS,
)
