"""The ICB/NHS trust eventsourcing Application: partner commands in, health events saved.

Each `@handles` method loads what the command names, asks the domain to change it and returns
the changed aggregates; `OrganisationApplication.execute` saves them in one transaction (with
the partner's record id, when given). People are registered as in every kind
(`services.domain.people`).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.domain.aggregates import Aggregate, DomainError
from services.domain.application import handles
from services.domain.complaints import ComplaintsApplication
from services.icb import commands as c
from services.icb.pathways import AdviceReturn, Diagnosis, Referral
from services.icb.people import Patient


class IcbApplication(ComplaintsApplication):
    person_type = Patient

    def patient(self, nhs_number: str, what: str) -> Patient:
        found = self.person(nhs_number, what)
        assert isinstance(found, Patient)
        return found

    def referral(self, referral_id: str, what: str) -> Referral:
        found = self.find(Referral, Referral.create_id(self.org.code, referral_id))
        if found is None:
            raise DomainError(
                f"{what}: no referral {referral_id} is recorded by {self.label}; send "
                f"{c.MakeReferral.name} first"
            )
        return found

    # -- pathways ---------------------------------------------------------------------------
    @handles(c.MakeReferral)
    def make_referral(self, cmd: c.MakeReferral) -> Iterable[Aggregate]:
        what = "health.referral_made"
        patient = self.patient(cmd.nhs_number, what)
        patient.not_before_birth(what, "referred_on", cmd.referred_on)
        existing = self.find(Referral, Referral.create_id(self.org.code, cmd.referral_id))
        if existing is not None:
            raise DomainError(
                f"{what} for referral {cmd.referral_id}: already recorded (referred on "
                f"{existing.referred_on}); use a new referral_id for a new referral"
            )
        return [
            Referral(
                org=self.org.code,
                person_id=patient.id,
                **cmd.fields("nhs_number"),
            )
        ]

    @handles(c.StartAssessment)
    def start_assessment(self, cmd: c.StartAssessment) -> Iterable[Aggregate]:
        referral = self.referral(cmd.referral_id, "health.assessment_started")
        referral.start_assessment(**cmd.fields("referral_id"))
        return [referral]

    @handles(c.CloseReferral)
    def close_referral(self, cmd: c.CloseReferral) -> Iterable[Aggregate]:
        referral = self.referral(cmd.referral_id, "health.referral_closed")
        referral.close(**cmd.fields("referral_id"))
        return [referral]

    @handles(c.RecordDiagnosis)
    def record_diagnosis(self, cmd: c.RecordDiagnosis) -> Iterable[Aggregate]:
        what = f"health.diagnosis_recorded for diagnosis {cmd.diagnosis_id}"
        patient = self.patient(cmd.nhs_number, what)
        Diagnosis.check_provenance(
            cmd.diagnosis_id, cmd.referral_id, cmd.no_referral_reason, cmd.referral_org
        )
        patient.not_before_birth(what, "diagnosed_on", cmd.diagnosed_on)
        if self.find(Diagnosis, Diagnosis.create_id(self.org.code, cmd.diagnosis_id)):
            raise DomainError(f"{what}: already recorded; use a new diagnosis_id")
        referral_org = None if cmd.referral_org == self.org.code else cmd.referral_org
        if cmd.referral_id is not None and referral_org is None:
            referral = self.find(Referral, Referral.create_id(self.org.code, cmd.referral_id))
            if referral is None:
                raise DomainError(
                    f"{what}: no referral {cmd.referral_id} is recorded by {self.label}; send "
                    f"{c.MakeReferral.name} first, or give referral_org if another "
                    "organisation holds the referral"
                )
            if referral.person_id != patient.id:
                raise DomainError(f"{what}: referral {cmd.referral_id} is for another person")
            if cmd.diagnosed_on < referral.referred_on:
                raise DomainError(
                    f"{what}: diagnosed_on {cmd.diagnosed_on} is before referral "
                    f"{cmd.referral_id} on {referral.referred_on}"
                )
        return [
            Diagnosis(
                org=self.org.code,
                person_id=patient.id,
                referral_org=referral_org,
                **cmd.fields("nhs_number", "referral_org"),
            )
        ]

    @handles(c.ReturnAdvice)
    def return_advice(self, cmd: c.ReturnAdvice) -> Iterable[Aggregate]:
        what = f"ehc.advice_returned for advice request {cmd.advice_request_id}"
        patient = self.patient(cmd.nhs_number, what)
        patient.not_before_birth(what, "returned_on", cmd.returned_on)
        advice_id = AdviceReturn.create_id(self.org.code, cmd.requesting_la, cmd.advice_request_id)
        existing = self.find(AdviceReturn, advice_id)
        if existing is not None:
            raise DomainError(
                f"{what} of LA {cmd.requesting_la}: advice was already returned on "
                f"{existing.returned_on}"
            )
        return [
            AdviceReturn(
                org=self.org.code,
                person_id=patient.id,
                **cmd.fields("nhs_number"),
            )
        ]

    # -- the health record ------------------------------------------------------------------
    @handles(c.CompleteAnnualHealthCheck)
    def complete_annual_health_check(self, cmd: c.CompleteAnnualHealthCheck) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.complete_annual_health_check)

    @handles(c.ChangeDsrStatus)
    def change_dsr_status(self, cmd: c.ChangeDsrStatus) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.change_dsr_status)

    @handles(c.UpdateCareSummary)
    def update_care_summary(self, cmd: c.UpdateCareSummary) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.update_care_summary)

    @handles(c.SetEhcPlanFlag)
    def set_ehc_plan_flag(self, cmd: c.SetEhcPlanFlag) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.set_ehc_plan_flag)

    @handles(c.ClearEhcPlanFlag)
    def clear_ehc_plan_flag(self, cmd: c.ClearEhcPlanFlag) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.clear_ehc_plan_flag)

    # -- transition to adult services -------------------------------------------------------
    @handles(c.AssignNamedWorker)
    def assign_named_worker(self, cmd: c.AssignNamedWorker) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.assign_named_worker)

    @handles(c.AcceptAdultServicesReferral)
    def accept_adult_services_referral(
        self, cmd: c.AcceptAdultServicesReferral
    ) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.accept_adult_services_referral)

    @handles(c.TransferToAdultServices)
    def transfer_to_adult_services(self, cmd: c.TransferToAdultServices) -> Iterable[Aggregate]:
        return self.change_person(cmd, Patient.transfer_to_adult_services)

