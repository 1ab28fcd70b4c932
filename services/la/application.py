"""The LA's eventsourcing Application: partner commands in, LA events saved in the LA's store.

Each `@handles` method loads what the command names, asks the domain to change it and returns
the changed aggregates; `OrganisationApplication.execute` saves them in one transaction
(with the partner's record id, when given). Aggregate ids derive from the LA code and the
partner's reference, so naming case 856-C-1 twice always means the same case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.domain.aggregates import Aggregate, DomainError
from services.domain.application import handles
from services.domain.command import Command
from services.domain.complaints import ComplaintsApplication
from services.la import commands as c
from services.la.domain import EhcCase, PlanIndex
from services.la.people import ApPlacement, Person


class LaApplication(ComplaintsApplication):
    person_type = Person

    # -- lookups with the partner-facing error when the thing is missing ---------------------
    def person(self, nhs_number: str, what: str) -> Person:
        found = super().person(nhs_number, what)
        assert isinstance(found, Person)
        return found

    def case(self, case_id: str, what: str) -> EhcCase:
        found = self.find(EhcCase, EhcCase.create_id(self.org.code, case_id))
        if found is None:
            raise DomainError(
                f"{what} for case {case_id}: no assessment request recorded by LA {self.org.code}"
            )
        return found

    def plan_case(self, plan_id: str, what: str) -> EhcCase:
        index = self.find(PlanIndex, PlanIndex.create_id(self.org.code, plan_id))
        if index is None:
            raise DomainError(
                f"{what} for plan {plan_id}: no plan issued by LA {self.org.code} has this id"
            )
        return self.repository.get(index.case)

    def change_case(self, cmd: Command, change: Callable[..., object]) -> list[Aggregate]:
        """The handler of a command naming a case: `change` (an `EhcCase` method) with the
        command's other fields."""
        case = self.case(cmd.case_id, cmd.event_type())  # type: ignore[attr-defined]
        change(case, **cmd.fields("case_id"))
        return [case]

    def change_plan(self, cmd: Command, change: Callable[..., object]) -> list[Aggregate]:
        """The handler of a command naming a plan: the same, for the case holding the plan."""
        case = self.plan_case(cmd.plan_id, cmd.event_type())  # type: ignore[attr-defined]
        change(case, **cmd.fields("plan_id"))
        return [case]

    # -- transition -------------------------------------------------------------------------
    @handles(c.AssignNamedWorker)
    def assign_named_worker(self, cmd: c.AssignNamedWorker) -> Iterable[Aggregate]:
        return self.change_person(cmd, Person.assign_named_worker)

    @handles(c.AgreeTransitionPlan)
    def agree_transition_plan(self, cmd: c.AgreeTransitionPlan) -> Iterable[Aggregate]:
        return self.change_person(cmd, Person.agree_transition_plan)

    @handles(c.CompleteTransitionAssessment)
    def complete_transition_assessment(
        self, cmd: c.CompleteTransitionAssessment
    ) -> Iterable[Aggregate]:
        return self.change_person(cmd, Person.complete_transition_assessment)

    @handles(c.CommissionPlacement)
    def commission_placement(self, cmd: c.CommissionPlacement) -> Iterable[Aggregate]:
        return [self.first_record(cmd, ApPlacement, "ap.placement_commissioned", "placement",
                                  "commissioned_on", "commissioned")]

    # -- the EHC process ------------------------------------------------------------------------
    @handles(c.RequestAssessment)
    def request_assessment(self, cmd: c.RequestAssessment) -> Iterable[Aggregate]:
        what = "ehc.assessment_requested"
        person = self.person(cmd.nhs_number, what)
        person.not_before_birth(what, "requested_on", cmd.requested_on)
        existing = self.find(EhcCase, EhcCase.create_id(self.org.code, cmd.case_id))
        if existing is not None:
            raise DomainError(
                f"{what} for case {cmd.case_id}: a request was already recorded on "
                f"{existing.requested_on}; use a new case_id for a new request"
            )
        return [
            EhcCase(
                org=self.org.code,
                person_id=person.id,
                **cmd.fields("nhs_number"),
            )
        ]

    @handles(c.DecideAssessment)
    def decide_assessment(self, cmd: c.DecideAssessment) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.decide_assessment)

    @handles(c.RequestAdvice)
    def request_advice(self, cmd: c.RequestAdvice) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.request_advice)

    @handles(c.IssuePlan)
    def issue_plan(self, cmd: c.IssuePlan) -> Iterable[Aggregate]:
        what = "ehc.plan_issued"
        case = self.case(cmd.case_id, what)
        self._plan_id_unused(cmd.plan_id, what)
        case.issue_plan(**cmd.fields("case_id"))
        return [case, PlanIndex(org=self.org.code, plan_id=cmd.plan_id, case=case.id)]

    @handles(c.RecordPlanInForce)
    def record_plan_in_force(self, cmd: c.RecordPlanInForce) -> Iterable[Aggregate]:
        what = "ehc.plan_in_force_recorded"
        person = self.person(cmd.nhs_number, what)
        existing = self.find(EhcCase, EhcCase.create_id(self.org.code, cmd.case_id))
        if existing is not None:
            raise DomainError(
                f"{what} for case {cmd.case_id}: this case is already recorded; use a new case_id"
            )
        self._plan_id_unused(cmd.plan_id, what)
        case = EhcCase.in_force(
            org=self.org.code, person_id=person.id, born_on=person.born_on,
            **cmd.fields("nhs_number"),
        )
        return [case, PlanIndex(org=self.org.code, plan_id=cmd.plan_id, case=case.id)]

    @handles(c.RecordAssessmentAtStep)
    def record_assessment_at_step(self, cmd: c.RecordAssessmentAtStep) -> Iterable[Aggregate]:
        what = "ehc.assessment_step_recorded"
        person = self.person(cmd.nhs_number, what)
        if self.find(EhcCase, EhcCase.create_id(self.org.code, cmd.case_id)) is not None:
            raise DomainError(
                f"{what} for case {cmd.case_id}: this case is already recorded; use a new case_id"
            )
        return [
            EhcCase.at_step(
                org=self.org.code, person_id=person.id, born_on=person.born_on,
                **cmd.fields("nhs_number"),
            )
        ]

    def _plan_id_unused(self, plan_id: str, what: str) -> None:
        if self.find(PlanIndex, PlanIndex.create_id(self.org.code, plan_id)) is not None:
            raise DomainError(
                f"{what} for plan {plan_id}: this plan id is already used by another case"
            )

    @handles(c.DecideNotToIssue)
    def decide_not_to_issue(self, cmd: c.DecideNotToIssue) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.decide_not_to_issue)

    @handles(c.HoldAnnualReview)
    def hold_annual_review(self, cmd: c.HoldAnnualReview) -> Iterable[Aggregate]:
        return self.change_plan(cmd, EhcCase.hold_annual_review)

    @handles(c.DecideReviewOutcome)
    def decide_review_outcome(self, cmd: c.DecideReviewOutcome) -> Iterable[Aggregate]:
        return self.change_plan(cmd, EhcCase.decide_review_outcome)

    @handles(c.AmendPlan)
    def amend_plan(self, cmd: c.AmendPlan) -> Iterable[Aggregate]:
        return self.change_plan(cmd, EhcCase.amend_plan)

    @handles(c.CeasePlan)
    def cease_plan(self, cmd: c.CeasePlan) -> Iterable[Aggregate]:
        return self.change_plan(cmd, EhcCase.cease_plan)


    # -- disagreement ---------------------------------------------------------------------------
    @handles(c.SeekMediationAdvice)
    def seek_mediation_advice(self, cmd: c.SeekMediationAdvice) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.seek_mediation_advice)

    @handles(c.HoldMediation)
    def hold_mediation(self, cmd: c.HoldMediation) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.hold_mediation)

    @handles(c.RegisterAppeal)
    def register_appeal(self, cmd: c.RegisterAppeal) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.register_appeal)

    @handles(c.DecideAppeal)
    def decide_appeal(self, cmd: c.DecideAppeal) -> Iterable[Aggregate]:
        return self.change_case(cmd, EhcCase.decide_appeal)
