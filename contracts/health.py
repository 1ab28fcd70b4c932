"""`health.*`: what the ICB, NHS trusts and GPs know: pathways, diagnoses, checks, transfers."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from contracts.envelope import Payload
from contracts.registry import event
from contracts.vocab import Condition, LocalId, OrgCode, Pathway


def _example(**fields: object) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@event("health.referral_made")
class ReferralMade(Payload):
    """A referral onto a health pathway was accepted onto the waiting list: the wait starts."""

    model_config = _example(referral_id="QK1-R-5512", referred_on="2024-11-04", pathway="neurodevelopmental")

    referral_id: LocalId
    referred_on: date
    pathway: Pathway


@event("health.assessment_started")
class HealthAssessmentStarted(Payload):
    """The first assessment appointment on a pathway took place: the wait ends."""

    model_config = _example(referral_id="QK1-R-5512", started_on="2025-09-15", pathway="neurodevelopmental")

    referral_id: LocalId
    started_on: date
    pathway: Pathway


@event("health.diagnosis_recorded")
class DiagnosisRecorded(Payload):
    """A diagnosis was recorded; it names the referral it answers, or says why there was none."""

    model_config = _example(
        diagnosis_id="QK1-D-88", diagnosed_on="2025-11-20", condition="autism",
        referral_id="QK1-R-5512", no_referral_reason=None,
    )

    diagnosis_id: LocalId
    diagnosed_on: date
    condition: Condition
    referral_id: LocalId | None = Field(default=None, description="The referral this answers.")
    no_referral_reason: Literal["diagnosed_elsewhere", "historic_record", "other"] | None = Field(
        default=None, description="Why there is no referral (exactly one of the two is given)."
    )

    @model_validator(mode="after")
    def _referral_or_reason(self) -> Self:
        if (self.referral_id is None) == (self.no_referral_reason is None):
            raise ValueError("give exactly one of referral_id or no_referral_reason")
        return self


@event("health.annual_health_check_completed")
class AnnualHealthCheckCompleted(Payload):
    """A GP learning-disability annual health check was completed (yearly from age 14)."""

    model_config = _example(completed_on="2025-06-10", health_action_plan=True)

    completed_on: date
    health_action_plan: bool = Field(description="A health action plan was produced.")


@event("health.dsr_status_changed")
class DsrStatusChanged(Payload):
    """The person's dynamic support register rating changed (risk of admission)."""

    model_config = _example(changed_on="2025-03-01", status="amber")

    changed_on: date
    status: Literal["red", "amber", "green", "removed"]


@event("health.care_summary_updated")
class CareSummaryUpdated(Payload):
    """The health care summary was updated (yearly from Year 9 for complex health needs)."""

    model_config = _example(updated_on="2025-10-01", complex_health_needs=True)

    updated_on: date
    complex_health_needs: bool


@event("health.ehc_plan_flag_set")
class EhcPlanFlagSet(Payload):
    """The health record now marks the person as having an EHC plan from this LA."""

    model_config = _example(set_on="2025-05-30", la_code="856")

    set_on: date
    la_code: OrgCode = Field(description="The LA the health record says maintains the plan.")


@event("health.ehc_plan_flag_cleared")
class EhcPlanFlagCleared(Payload):
    """The health record no longer marks the person as having an EHC plan."""

    model_config = _example(cleared_on="2026-08-01", la_code="856")

    cleared_on: date
    la_code: OrgCode


@event("health.adult_services_referral_accepted")
class AdultServicesReferralAccepted(Payload):
    """An adult health service accepted the referral for transfer (due by 17½)."""

    model_config = _example(accepted_on="2028-11-01", service="adult_ld", agreed_transfer_on="2029-04-01")

    accepted_on: date
    service: Literal["adult_ld", "adult_mental_health", "adult_community", "adult_neurology", "gp", "other"]
    agreed_transfer_on: date | None = Field(default=None, description="Agreed date of transfer.")


@event("health.transferred_to_adult_services")
class TransferredToAdultServices(Payload):
    """Care was transferred to adult services (due by 18 or the agreed date)."""

    model_config = _example(transferred_on="2029-04-01", service="adult_ld", receiving_org="RT5")

    transferred_on: date
    service: Literal["adult_ld", "adult_mental_health", "adult_community", "adult_neurology", "gp", "other"]
    receiving_org: OrgCode | None = None
