"""Stored ICB/NHS trust events -> shared contract events, pseudonymised and minimised.

Every event of a non-bookkeeping aggregate is shared; each builder reads the stored event alone
(the stored events carry every field the contract needs) and publishes the contract's current
version (`health.referral_made` v2 with its priority, `health.diagnosis_recorded` v2 with the
organisation holding the referral).
"""

from __future__ import annotations

from typing import ClassVar

from contracts import ehc, health, transition
from services.domain.people import RegisteredPerson
from services.icb.pathways import AdviceReturn, Diagnosis, Referral
from services.icb.people import Patient
from services.sharing.translation import Build, Translator, person_erased, person_registered


class IcbContract(Translator):
    builders: ClassVar[dict[type, Build]] = {
        Patient.Registered: person_registered,
        RegisteredPerson.Erased: person_erased,
        Referral.Made: lambda e: (
            health.ReferralMade(
                referral_id=e.referral_id,
                referred_on=e.referred_on,
                pathway=e.pathway,
                priority=e.priority,
            ),
            e.referred_on,
        ),
        Referral.AssessmentStarted: lambda e: (
            health.HealthAssessmentStarted(
                referral_id=e.referral_id, started_on=e.started_on, pathway=e.pathway
            ),
            e.started_on,
        ),
        Diagnosis.Recorded: lambda e: (
            health.DiagnosisRecorded(
                diagnosis_id=e.diagnosis_id,
                diagnosed_on=e.diagnosed_on,
                condition=e.condition,
                referral_id=e.referral_id,
                referral_org=e.referral_org,
                no_referral_reason=e.no_referral_reason,
            ),
            e.diagnosed_on,
        ),
        AdviceReturn.Returned: lambda e: (
            ehc.AdviceReturned(
                case_id=e.case_id,
                advice_request_id=e.advice_request_id,
                requesting_la=e.requesting_la,
                returned_on=e.returned_on,
                advice_giver=e.advice_giver,
            ),
            e.returned_on,
        ),
        Patient.AnnualHealthCheckCompleted: lambda e: (
            health.AnnualHealthCheckCompleted(
                completed_on=e.completed_on, health_action_plan=e.health_action_plan
            ),
            e.completed_on,
        ),
        Patient.DsrStatusChanged: lambda e: (
            health.DsrStatusChanged(changed_on=e.changed_on, status=e.status),
            e.changed_on,
        ),
        Patient.CareSummaryUpdated: lambda e: (
            health.CareSummaryUpdated(
                updated_on=e.updated_on, complex_health_needs=e.complex_health_needs
            ),
            e.updated_on,
        ),
        Patient.EhcPlanFlagSet: lambda e: (
            health.EhcPlanFlagSet(set_on=e.set_on, la_code=e.la_code),
            e.set_on,
        ),
        Patient.EhcPlanFlagCleared: lambda e: (
            health.EhcPlanFlagCleared(cleared_on=e.cleared_on, la_code=e.la_code),
            e.cleared_on,
        ),
        Patient.NamedWorkerAssigned: lambda e: (
            transition.NamedWorkerAssigned(assigned_on=e.assigned_on, worker_role=e.worker_role),
            e.assigned_on,
        ),
        Patient.AdultServicesReferralAccepted: lambda e: (
            health.AdultServicesReferralAccepted(
                accepted_on=e.accepted_on,
                service=e.service,
                agreed_transfer_on=e.agreed_transfer_on,
            ),
            e.accepted_on,
        ),
        Patient.TransferredToAdultServices: lambda e: (
            health.TransferredToAdultServices(
                transferred_on=e.transferred_on,
                service=e.service,
                receiving_org=e.receiving_org,
            ),
            e.transferred_on,
        ),
    }
