"""Stored ICB/NHS trust events -> shared contract events, pseudonymised and minimised.

Every event of a non-bookkeeping aggregate is shared; each builder copies the contract's fields
from the stored event alone (the stored events carry every field the contract needs) and
publishes the contract's current version (`health.referral_made` v2 with its priority,
`health.diagnosis_recorded` v2 with the organisation holding the referral).
"""

from __future__ import annotations

from typing import ClassVar

from contracts import ehc, health, transition
from services.icb.pathways import AdviceReturn, Diagnosis, Referral
from services.icb.people import Patient
from services.sharing.translation import COMPLAINTS, Build, Copy, Translator, kind_builders


class IcbContract(Translator):
    builders: ClassVar[dict[type, Build]] = kind_builders(
        Patient,
        Copy(Referral.Made, health.ReferralMade, "referred_on"),
        Copy(Referral.AssessmentStarted, health.HealthAssessmentStarted, "started_on"),
        Copy(Referral.Closed, health.ReferralClosed, "closed_on"),
        Copy(Diagnosis.Recorded, health.DiagnosisRecorded, "diagnosed_on"),
        Copy(AdviceReturn.Returned, ehc.AdviceReturned, "returned_on"),
        Copy(
            Patient.AnnualHealthCheckCompleted, health.AnnualHealthCheckCompleted,
            "completed_on",
        ),
        Copy(Patient.DsrStatusChanged, health.DsrStatusChanged, "changed_on"),
        Copy(Patient.CareSummaryUpdated, health.CareSummaryUpdated, "updated_on"),
        Copy(Patient.EhcPlanFlagSet, health.EhcPlanFlagSet, "set_on"),
        Copy(Patient.EhcPlanFlagCleared, health.EhcPlanFlagCleared, "cleared_on"),
        Copy(Patient.NamedWorkerAssigned, transition.NamedWorkerAssigned, "assigned_on"),
        Copy(
            Patient.AdultServicesReferralAccepted, health.AdultServicesReferralAccepted,
            "accepted_on",
        ),
        Copy(
            Patient.TransferredToAdultServices, health.TransferredToAdultServices,
            "transferred_on",
        ),
        *COMPLAINTS,
    )
