"""What partner systems may ask an ICB or NHS trust service to record: one model per command.

Field names and code lists are those of the contract events they produce (`contracts/health.py`,
`contracts/ehc.py`, `contracts/transition.py`), so an extract maps one-to-one; a command may
also be named by the event type it produces (`health.referral_made`).
"""

from __future__ import annotations

from contracts.constraints import EventDate, PlannedDate
from contracts.health import (
    AdultService,
    DsrStatus,
    NoReferralReason,
    ReferralClosedReason,
    ReferralPriority,
)
from contracts.provenance import SourceSystem
from contracts.transition import WorkerRole
from contracts.vocab import AdviceGiver, Condition, LocalId, OrgCode, Pathway
from services.domain.command import Command, NhsNumber
from services.domain.complaints import COMPLAINT_COMMANDS
from services.domain.people import ErasePerson, RegisterPerson


class MakeReferral(Command):
    name = "health.make_referral"
    aliases = ("health.referral_made",)

    nhs_number: NhsNumber
    referral_id: LocalId
    referred_on: EventDate
    pathway: Pathway
    priority: ReferralPriority = "routine"
    migrated_from: SourceSystem | None = None
    """Go-live: the system an already open referral is recorded from (absent when live)."""


class StartAssessment(Command):
    name = "health.start_assessment"
    aliases = ("health.assessment_started",)

    referral_id: LocalId
    started_on: EventDate


class CloseReferral(Command):
    """Close a referral that ends without any assessment (discharged, moved away, declined)."""

    name = "health.close_referral"
    aliases = ("health.referral_closed",)

    referral_id: LocalId
    closed_on: EventDate
    reason: ReferralClosedReason


class RecordDiagnosis(Command):
    """Name the referral it answers (`referral_org` if another organisation holds it), or say
    why there was none (`no_referral_reason`)."""

    name = "health.record_diagnosis"
    aliases = ("health.diagnosis_recorded",)

    nhs_number: NhsNumber
    diagnosis_id: LocalId
    diagnosed_on: EventDate
    condition: Condition
    referral_id: LocalId | None = None
    referral_org: OrgCode | None = None
    no_referral_reason: NoReferralReason | None = None
    migrated_from: SourceSystem | None = None
    """Go-live: the system a diagnosis already held is recorded from (absent when live)."""


class ReturnAdvice(Command):
    name = "ehc.return_advice"
    aliases = ("ehc.advice_returned",)

    nhs_number: NhsNumber
    case_id: LocalId
    advice_request_id: LocalId
    requesting_la: OrgCode
    returned_on: EventDate
    advice_giver: AdviceGiver = "health"


class CompleteAnnualHealthCheck(Command):
    name = "health.complete_annual_health_check"
    aliases = ("health.annual_health_check_completed",)

    nhs_number: NhsNumber
    completed_on: EventDate
    health_action_plan: bool
    migrated_from: SourceSystem | None = None


class ChangeDsrStatus(Command):
    name = "health.change_dsr_status"
    aliases = ("health.dsr_status_changed",)

    nhs_number: NhsNumber
    changed_on: EventDate
    status: DsrStatus
    migrated_from: SourceSystem | None = None


class UpdateCareSummary(Command):
    name = "health.update_care_summary"
    aliases = ("health.care_summary_updated",)

    nhs_number: NhsNumber
    updated_on: EventDate
    complex_health_needs: bool


class SetEhcPlanFlag(Command):
    name = "health.set_ehc_plan_flag"
    aliases = ("health.ehc_plan_flag_set",)

    nhs_number: NhsNumber
    set_on: EventDate
    la_code: OrgCode


class ClearEhcPlanFlag(Command):
    name = "health.clear_ehc_plan_flag"
    aliases = ("health.ehc_plan_flag_cleared",)

    nhs_number: NhsNumber
    cleared_on: EventDate
    la_code: OrgCode


class AcceptAdultServicesReferral(Command):
    name = "health.accept_adult_services_referral"
    aliases = ("health.adult_services_referral_accepted",)

    nhs_number: NhsNumber
    accepted_on: EventDate
    service: AdultService
    agreed_transfer_on: PlannedDate | None = None


class TransferToAdultServices(Command):
    name = "health.transfer_to_adult_services"
    aliases = ("health.transferred_to_adult_services",)

    nhs_number: NhsNumber
    transferred_on: EventDate
    service: AdultService
    receiving_org: OrgCode | None = None


class AssignNamedWorker(Command):
    """The health transition worker (NICE NG43) by default."""

    name = "transition.assign_named_worker"
    aliases = ("transition.named_worker_assigned",)

    nhs_number: NhsNumber
    assigned_on: EventDate
    worker_role: WorkerRole = "health_transition_worker"


ICB_COMMANDS: tuple[type[Command], ...] = (
    RegisterPerson,
    ErasePerson,
    MakeReferral,
    StartAssessment,
    CloseReferral,
    RecordDiagnosis,
    ReturnAdvice,
    CompleteAnnualHealthCheck,
    ChangeDsrStatus,
    UpdateCareSummary,
    SetEhcPlanFlag,
    ClearEhcPlanFlag,
    AcceptAdultServicesReferral,
    TransferToAdultServices,
    AssignNamedWorker,
    *COMPLAINT_COMMANDS,
)
