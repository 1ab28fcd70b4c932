"""`health.*`: what the ICB, NHS trusts and GPs know: pathways, diagnoses, checks, transfers."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from contracts.envelope import Payload
from contracts.provenance import MigratedFrom
from contracts.registry import event, upcaster
from contracts.vocab import Condition, LocalId, OrgCode, Pathway

ReferralPriority = Literal["routine", "urgent"]
DsrStatus = Literal["red", "amber", "green", "removed"]
NoReferralReason = Literal["diagnosed_elsewhere", "historic_record", "other"]
ReferralClosedReason = Literal["discharged", "moved_away", "declined", "other"]
"""Why a referral was closed before any assessment: discharged (e.g. needs met, not attending),
moved away from the area, the family declined, other."""
AdultService = Literal[
    "adult_ld", "adult_mental_health", "adult_community", "adult_neurology", "gp", "other"
]


def _example(**fields: object) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@event("health.referral_made", version=1)
class ReferralMadeV1(Payload):
    """v1 of `health.referral_made` (superseded by v2, which adds `priority`).

    Still registered so that events stored or published as v1 validate; `decode` upcasts them.
    """

    model_config = _example(
        referral_id="QK1-R-5512", referred_on="2024-11-04", pathway="neurodevelopmental"
    )

    referral_id: LocalId
    referred_on: date = Field(description="Date the referral was accepted: the wait starts.")
    pathway: Pathway = Field(description="The health pathway referred to.")


@event("health.referral_made", version=2)
class ReferralMadeV2(Payload):
    """A referral onto a health pathway was accepted onto the waiting list: the wait starts.

    v2 adds `priority`, because urgent and routine waits are reported apart (a v1 referral
    was triaged routine unless said otherwise, so the upcaster fills in `routine`).
    """

    model_config = _example(
        referral_id="QK1-R-5512", referred_on="2024-11-04", pathway="neurodevelopmental",
        priority="routine",
    )

    referral_id: LocalId
    referred_on: date = Field(description="Date the referral was accepted: the wait starts.")
    pathway: Pathway = Field(description="The health pathway referred to.")
    priority: ReferralPriority = Field(
        default="routine", description="Triage priority: routine or urgent (v2; v1 = routine)."
    )


@upcaster("health.referral_made", from_version=1)
def _referral_priority_defaults_to_routine(payload: dict) -> dict:
    return {**payload, "priority": "routine"}


@event("health.referral_made", version=3)
class ReferralMade(ReferralMadeV2):
    """A referral onto a health pathway was accepted onto the waiting list: the wait starts.

    v3 adds `migrated_from`: a referral still open when the organisation joined is recorded at
    go-live with its real referral date, so the wait counts from then, and read models can tell
    it from a referral observed live. v2 added `priority` (urgent and routine waits are
    reported apart; a v1 referral was routine).
    """

    model_config = _example(
        referral_id="QK1-R-5512", referred_on="2024-11-04", pathway="neurodevelopmental",
        priority="routine", migrated_from="systmone",
    )

    migrated_from: MigratedFrom


@upcaster("health.referral_made", from_version=2)
def _referral_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("health.assessment_started")
class HealthAssessmentStarted(Payload):
    """The first assessment appointment on a pathway took place: the wait ends."""

    model_config = _example(
        referral_id="QK1-R-5512", started_on="2025-09-15", pathway="neurodevelopmental"
    )

    referral_id: LocalId
    started_on: date = Field(
        description="Date of the first assessment appointment: the wait ends."
    )
    pathway: Pathway = Field(description="The pathway of the referral.")


@event("health.referral_closed")
class ReferralClosed(Payload):
    """A referral was closed without any assessment: the wait ends, and is counted apart (not as
    an assessment, never as still waiting)."""

    model_config = _example(
        referral_id="QK1-R-5512", closed_on="2025-06-02", reason="moved_away",
        pathway="neurodevelopmental",
    )

    referral_id: LocalId
    closed_on: date = Field(description="Date the referral was closed: the wait ends.")
    reason: ReferralClosedReason = Field(description="Why it was closed without assessment.")
    pathway: Pathway = Field(description="The pathway of the referral.")


@event("health.diagnosis_recorded", version=1)
class DiagnosisRecordedV1(Payload):
    """v1 of `health.diagnosis_recorded` (superseded by v2, which adds `referral_org`)."""

    model_config = _example(
        diagnosis_id="QK1-D-88", diagnosed_on="2025-11-20", condition="autism",
        referral_id="QK1-R-5512", no_referral_reason=None,
    )

    diagnosis_id: LocalId
    diagnosed_on: date = Field(description="Date the diagnosis was made.")
    condition: Condition = Field(description="The condition diagnosed.")
    referral_id: LocalId | None = Field(default=None, description="The referral this answers.")
    no_referral_reason: NoReferralReason | None = Field(
        default=None, description="Why there is no referral (exactly one of the two is given)."
    )

    @model_validator(mode="after")
    def _referral_or_reason(self) -> Self:
        if (self.referral_id is None) == (self.no_referral_reason is None):
            raise ValueError("give exactly one of referral_id or no_referral_reason")
        return self


@event("health.diagnosis_recorded", version=2)
class DiagnosisRecordedV2(Payload):
    """v2 of `health.diagnosis_recorded` (superseded by v3, which seals the condition).

    v2 adds `referral_org`: the referral may be held by another organisation (a trust
    diagnosing on an ICB-held referral), and consumers key referrals by (organisation, id).
    """

    model_config = _example(
        diagnosis_id="RT5-D-88", diagnosed_on="2025-11-20", condition="autism",
        referral_id="RWE-R-5512", referral_org="RWE", no_referral_reason=None,
    )

    diagnosis_id: LocalId
    diagnosed_on: date = Field(description="Date the diagnosis was made.")
    condition: Condition = Field(description="The condition diagnosed.")
    referral_id: LocalId | None = Field(default=None, description="The referral this answers.")
    referral_org: OrgCode | None = Field(
        default=None,
        exclude_if=lambda org: org is None,  # absent = the publisher holds it (v1 meaning)
        description=(
            "Organisation holding the referral when it is not the publisher (v2; omitted when "
            "the publisher holds it)."
        ),
    )
    no_referral_reason: NoReferralReason | None = Field(
        default=None, description="Why there is no referral (exactly one of the two is given)."
    )

    @model_validator(mode="after")
    def _referral_or_reason(self) -> Self:
        if (self.referral_id is None) == (self.no_referral_reason is None):
            raise ValueError("give exactly one of referral_id or no_referral_reason")
        if self.referral_org is not None and self.referral_id is None:
            raise ValueError("referral_org names who holds referral_id; give referral_id too")
        return self


@upcaster("health.diagnosis_recorded", from_version=1)
def _diagnosis_referral_held_by_publisher(payload: dict) -> dict:
    return {**payload, "referral_org": None}


@event("health.diagnosis_recorded", version=3)
class DiagnosisRecordedV3(DiagnosisRecordedV2):
    """A diagnosis was recorded; it names the referral it answers, or says why there was none.

    v3 seals `condition`: the diagnosis says something about the person, not the process, so it
    travels under the person's key and reads as null once the person is erased (the diagnosis
    date and the referral it answers stay in clear: the waits are counted from them). Otherwise
    as v2, which added `referral_org` (the referral may be held by another organisation).
    """

    personal_fields: ClassVar[tuple[str, ...]] = ("condition",)

    condition: Condition | None = Field(  # type: ignore[assignment]
        default=None,
        exclude_if=lambda condition: condition is None,
        description="The condition diagnosed. Personal: sealed on the wire; null once erased.",
    )


@upcaster("health.diagnosis_recorded", from_version=2)
def _diagnosis_condition_unchanged(payload: dict) -> dict:
    return dict(payload)


@event("health.diagnosis_recorded", version=4)
class DiagnosisRecorded(DiagnosisRecordedV3):
    """A diagnosis was recorded; it names the referral it answers, or says why there was none.

    v4 adds `migrated_from`: a diagnosis the organisation already held when it joined is
    recorded at go-live with its real date. v3 sealed `condition` (personal: null once the
    person is erased); v2 added `referral_org` (the referral may be held by another
    organisation).
    """

    model_config = _example(
        diagnosis_id="RT5-D-88", diagnosed_on="2025-11-20", condition="autism",
        referral_id="RWE-R-5512", referral_org="RWE", no_referral_reason=None,
        migrated_from="systmone",
    )

    migrated_from: MigratedFrom


@upcaster("health.diagnosis_recorded", from_version=3)
def _diagnosis_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("health.annual_health_check_completed", version=1)
class AnnualHealthCheckCompletedV1(Payload):
    """v1 of `health.annual_health_check_completed` (superseded by v2: `migrated_from`)."""

    model_config = _example(completed_on="2025-06-10", health_action_plan=True)

    completed_on: date = Field(description="Date the annual health check was completed.")
    health_action_plan: bool = Field(description="A health action plan was produced.")


@event("health.annual_health_check_completed", version=2)
class AnnualHealthCheckCompleted(AnnualHealthCheckCompletedV1):
    """A GP learning-disability annual health check was completed (yearly from age 14).

    v2 adds `migrated_from`: the last check a GP practice already held when it joined is
    recorded at go-live with its real date, so uptake in the last 12 months counts it from day
    one and read models can tell it from a check observed live.
    """

    model_config = _example(
        completed_on="2025-06-10", health_action_plan=True, migrated_from="emis-web"
    )

    migrated_from: MigratedFrom


@upcaster("health.annual_health_check_completed", from_version=1)
def _health_check_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("health.dsr_status_changed", version=1)
class DsrStatusChangedV1(Payload):
    """v1 of `health.dsr_status_changed` (superseded by v2: `migrated_from`)."""

    model_config = _example(changed_on="2025-03-01", status="amber")

    changed_on: date = Field(description="Date the rating changed.")
    status: DsrStatus = Field(
        description="red (high risk of admission), amber, green, or removed from the register."
    )


@event("health.dsr_status_changed", version=2)
class DsrStatusChanged(DsrStatusChangedV1):
    """The person's dynamic support register rating changed (risk of admission).

    v2 adds `migrated_from`: a rating already on the register when the ICB joined is recorded
    at go-live with the date it was given (`changed_on`), not the day it was sent.
    """

    model_config = _example(changed_on="2025-03-01", status="amber", migrated_from="systmone")

    migrated_from: MigratedFrom


@upcaster("health.dsr_status_changed", from_version=1)
def _dsr_status_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("health.care_summary_updated")
class CareSummaryUpdated(Payload):
    """The health care summary was updated (yearly from Year 9 for complex health needs)."""

    model_config = _example(updated_on="2025-10-01", complex_health_needs=True)

    updated_on: date = Field(description="Date the care summary was updated.")
    complex_health_needs: bool = Field(description="The person has complex health needs.")


@event("health.ehc_plan_flag_set")
class EhcPlanFlagSet(Payload):
    """The health record now marks the person as having an EHC plan from this LA."""

    model_config = _example(set_on="2025-05-30", la_code="856")

    set_on: date = Field(description="Date the marker was added to the health record.")
    la_code: OrgCode = Field(description="The LA the health record says maintains the plan.")


@event("health.ehc_plan_flag_cleared")
class EhcPlanFlagCleared(Payload):
    """The health record no longer marks the person as having an EHC plan."""

    model_config = _example(cleared_on="2026-08-01", la_code="856")

    cleared_on: date = Field(description="Date the marker was removed from the health record.")
    la_code: OrgCode


@event("health.adult_services_referral_accepted")
class AdultServicesReferralAccepted(Payload):
    """An adult health service accepted the referral for transfer (due by 17½)."""

    model_config = _example(
        accepted_on="2028-11-01", service="adult_ld", agreed_transfer_on="2029-04-01"
    )

    accepted_on: date = Field(description="Date the adult service accepted the referral.")
    service: AdultService = Field(
        description="The adult service that accepted the young person."
    )
    agreed_transfer_on: date | None = Field(default=None, description="Agreed date of transfer.")


@event("health.transferred_to_adult_services")
class TransferredToAdultServices(Payload):
    """Care was transferred to adult services (due by 18 or the agreed date)."""

    model_config = _example(transferred_on="2029-04-01", service="adult_ld", receiving_org="RT5")

    transferred_on: date = Field(description="Date responsibility passed to the adult service.")
    service: AdultService = Field(
        description="The adult service that took over care."
    )
    receiving_org: OrgCode | None = Field(
        default=None, description="Code of the receiving organisation, when a partner."
    )
