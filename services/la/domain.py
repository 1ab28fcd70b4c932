"""The LA's EHC domain model: one case from the request to the ceased plan.

People, their transition milestones and commissioned AP are in `services/la/people.py`.

Aggregates hold what the LA knows, raw identifiers included (they stay in the LA's store).
Public methods check the rules and raise `DomainError` naming the event that was refused, the
LA's reference and the reason, so that a partner's developer can fix the row; the private
`@event` methods only record. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from contracts import timescales
from services.domain.aggregates import Aggregate, Bookkeeping, DomainError, reference_id


class CaseStatus(StrEnum):
    REQUESTED = "requested"
    ASSESSING = "assessing"
    REFUSED = "refused"
    NOT_ISSUED = "not_issued"
    PLAN_ACTIVE = "plan_active"
    CEASED = "ceased"


_STATUS_AT_STEP = {
    "awaiting_decision": CaseStatus.REQUESTED,
    "assessing": CaseStatus.ASSESSING,
    "refused_to_assess": CaseStatus.REFUSED,
    "not_issued": CaseStatus.NOT_ISSUED,
}
"""The case status each go-live step (`contracts.ehc.AssessmentStep`) begins at."""


@dataclass
class Review:
    held_on: date
    preparing_for_adulthood: bool
    outcome: str | None = None
    decided_on: date | None = None


class EhcCase(Aggregate):
    """One request for an EHC needs assessment and, if a plan follows, that plan's life.

    request -> decision (assess / refuse) -> advice -> plan issued / not issued
    -> annual reviews -> outcomes -> amendments -> ceased.
    """

    @staticmethod
    def create_id(org: str, case_id: str) -> UUID:
        return reference_id(org, "case", case_id)

    class PlanInForceRecorded(Aggregate.Created):
        """Go-live: the case begins with its plan already in force (no request is invented)."""

        org: str
        case_id: str
        person_id: UUID
        plan_id: str
        issued_on: date
        primary_need: str
        placement: str
        placement_provider: str | None
        requested_on: date | None
        exception: str | None
        last_reviewed_on: date | None
        last_amended_on: date | None
        migrated_from: str

        def mutate(self, aggregate: None) -> EhcCase:
            case = EhcCase.__new__(EhcCase)
            case.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            case._start(self.org, self.case_id, self.person_id, self.requested_on)
            case.plan_id, case.issued_on = self.plan_id, self.issued_on
            case.timescale_exception = self.exception
            case.status = CaseStatus.PLAN_ACTIVE
            case.migrated_from = self.migrated_from
            if self.last_reviewed_on is not None:
                case.reviews.append(Review(self.last_reviewed_on, False))
            case.last_amended_on = self.last_amended_on
            return case

    class AssessmentStepRecorded(Aggregate.Created):
        """Go-live: the case begins at the step the LA's system records (nothing invented)."""

        org: str
        case_id: str
        person_id: UUID
        requested_on: date
        requested_by: str | None
        step: str
        decided_on: date | None
        not_issued_on: date | None
        not_issued_reason: str | None
        migrated_from: str

        def mutate(self, aggregate: None) -> EhcCase:
            case = EhcCase.__new__(EhcCase)
            case.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            case._start(self.org, self.case_id, self.person_id, self.requested_on)
            case.migrated_from = self.migrated_from
            case.decided_on = self.decided_on
            case.closed_on = self.not_issued_on
            case.status = _STATUS_AT_STEP[self.step]
            return case

    @event("AssessmentRequested")
    def __init__(
        self, org: str, case_id: str, person_id: UUID, requested_on: date, requested_by: str
    ) -> None:
        self._start(org, case_id, person_id, requested_on)

    @classmethod
    def in_force(
        cls, *, org: str, case_id: str, person_id: UUID, born_on: date, **plan: Any
    ) -> EhcCase:
        """A plan in force at go-live, refused when its own dates are out of order."""
        what = "ehc.plan_in_force_recorded"
        subject = f"{what} for plan {plan['plan_id']}"
        issued_on: date = plan["issued_on"]
        if issued_on < born_on:
            raise DomainError(f"{subject}: issued_on {issued_on} is before their date of birth")
        if plan["requested_on"] is not None and plan["requested_on"] > issued_on:
            raise DomainError(
                f"{subject}: requested_on {plan['requested_on']} is after issued_on {issued_on}"
            )
        for field in ("last_reviewed_on", "last_amended_on"):
            if plan[field] is not None and plan[field] < issued_on:
                raise DomainError(
                    f"{subject}: {field} {plan[field]} is before the plan was issued on {issued_on}"
                )
        return cls._create(
            cls.PlanInForceRecorded,
            id=cls.create_id(org, case_id),
            org=org,
            case_id=case_id,
            person_id=person_id,
            **plan,
        )

    @classmethod
    def at_step(
        cls, *, org: str, case_id: str, person_id: UUID, born_on: date, **recorded: Any
    ) -> EhcCase:
        """An assessment held at go-live, refused when requested before the person's birth
        (the step's own dates are checked by the command, as the contract checks them)."""
        requested_on: date = recorded["requested_on"]
        if requested_on < born_on:
            raise DomainError(
                f"ehc.assessment_step_recorded for case {case_id}: requested_on {requested_on} "
                "is before their date of birth"
            )
        return cls._create(
            cls.AssessmentStepRecorded,
            id=cls.create_id(org, case_id),
            org=org,
            case_id=case_id,
            person_id=person_id,
            **recorded,
        )

    def _start(self, org: str, case_id: str, person_id: UUID, requested_on: date | None) -> None:
        """The state every case begins with, requested live or in force at go-live."""
        self.org = org
        self.case_id = case_id
        self.person_id = person_id
        self.requested_on = requested_on
        self.migrated_from: str | None = None
        self.status = CaseStatus.REQUESTED
        self.decided_on: date | None = None
        self.advice_requests: dict[str, date] = {}
        self.plan_id: str | None = None
        self.issued_on: date | None = None
        self.timescale_exception: str | None = None
        self.closed_on: date | None = None
        self.reviews: list[Review] = []
        self.last_amended_on: date | None = None
        self.appeals: dict[str, date] = {}
        """Tribunal appeals registered -> their registration date (removed when decided)."""

    # -- statutory clocks (contracts.timescales); whether a plan counts as on time, exceptions
    # excluded, is the 20-week indicator's to say (projections/dataset), not the case's ----
    @property
    def decision_due(self) -> date | None:
        """None for a plan in force at go-live whose request the LA does not hold."""
        if self.requested_on is None:
            return None
        return timescales.decision_to_assess_due(self.requested_on)

    @property
    def plan_due(self) -> date | None:
        if self.requested_on is None:
            return None
        return timescales.twenty_week_deadline(self.requested_on)

    @property
    def next_review_due(self) -> date | None:
        if self.status is not CaseStatus.PLAN_ACTIVE or self.issued_on is None:
            return None
        last = self.reviews[-1].held_on if self.reviews else self.issued_on
        return timescales.annual_review_due(last)

    # -- rules ------------------------------------------------------------------------------
    def _refuse(self, what: str, why: str) -> DomainError:
        subject = f"plan {self.plan_id}" if self.plan_id else f"case {self.case_id}"
        return DomainError(f"{what} for {subject}: {why}")

    def _not_before(
        self, what: str, field: str, on: date, earlier: date, earlier_what: str
    ) -> None:
        if on < earlier:
            raise self._refuse(what, f"{field} {on} is before {earlier_what} on {earlier}")

    def _after_decision_to_assess(self, what: str, field: str, on: date) -> None:
        """The statutory order: request, then the decision to assess, then the outcome."""
        self._not_before(what, field, on, self.requested_on, "the request")
        assert self.decided_on is not None
        self._not_before(what, field, on, self.decided_on, "the decision to assess")

    def _require_assessing(self, what: str) -> None:
        why = {
            CaseStatus.REQUESTED: "no decision to assess is recorded yet",
            CaseStatus.REFUSED: f"the LA refused to assess on {self.decided_on}",
            CaseStatus.NOT_ISSUED: f"the LA decided not to issue a plan on {self.closed_on}",
            CaseStatus.PLAN_ACTIVE: f"plan {self.plan_id} was already issued on {self.issued_on}",
            CaseStatus.CEASED: f"plan {self.plan_id} was ceased on {self.closed_on}",
        }
        if self.status is not CaseStatus.ASSESSING:
            raise self._refuse(what, why[self.status])

    def _require_active_plan(self, what: str) -> None:
        if self.status is CaseStatus.CEASED:
            raise self._refuse(what, f"the plan was ceased on {self.closed_on}")
        if self.status is not CaseStatus.PLAN_ACTIVE:
            raise self._refuse(what, f"no plan has been issued for case {self.case_id}")

    def _review_held_on(self, what: str, held_on: date) -> Review:
        for review in self.reviews:
            if review.held_on == held_on:
                return review
        raise self._refuse(what, f"no annual review held on {held_on} is recorded")

    # -- commands ---------------------------------------------------------------------------
    def decide_assessment(self, *, decided_on: date, decision: str) -> None:
        what = "ehc.assessment_decided"
        if self.status is not CaseStatus.REQUESTED:
            raise self._refuse(what, f"the decision was already made on {self.decided_on}")
        self._not_before(what, "decided_on", decided_on, self.requested_on, "the request")
        self._assessment_decided(decided_on=decided_on, decision=decision)

    @event("AssessmentDecided")
    def _assessment_decided(self, decided_on: date, decision: str) -> None:
        self.decided_on = decided_on
        self.status = CaseStatus.ASSESSING if decision == "assess" else CaseStatus.REFUSED

    def request_advice(self, *, advice_request_id: str, requested_on: date, **rest: Any) -> None:
        """`rest`: what is recorded without a rule on it (`_advice_requested`)."""
        what = "ehc.advice_requested"
        self._require_assessing(what)
        if advice_request_id in self.advice_requests:
            raise self._refuse(
                what,
                f"advice request {advice_request_id} was already made on "
                f"{self.advice_requests[advice_request_id]}",
            )
        assert self.decided_on is not None
        self._not_before(
            what, "requested_on", requested_on, self.decided_on, "the decision to assess"
        )
        self._advice_requested(
            advice_request_id=advice_request_id, requested_on=requested_on, **rest
        )

    @event("AdviceRequested")
    def _advice_requested(
        self,
        advice_request_id: str,
        requested_on: date,
        advice_giver: str,
        requested_from: str | None,
    ) -> None:
        self.advice_requests[advice_request_id] = requested_on

    def issue_plan(self, *, issued_on: date, **rest: Any) -> None:
        """`rest`: what is recorded without a rule on it (`_plan_issued`)."""
        what = "ehc.plan_issued"
        self._require_assessing(what)
        self._after_decision_to_assess(what, "issued_on", issued_on)
        self._plan_issued(issued_on=issued_on, **rest)

    @event("PlanIssued")
    def _plan_issued(
        self,
        plan_id: str,
        issued_on: date,
        primary_need: str,
        placement: str,
        placement_provider: str | None,
        exception: str | None,
    ) -> None:
        self.plan_id = plan_id
        self.issued_on = issued_on
        self.timescale_exception = exception
        self.status = CaseStatus.PLAN_ACTIVE

    def decide_not_to_issue(self, *, decided_on: date, reason: str) -> None:
        what = "ehc.plan_not_issued"
        self._require_assessing(what)
        self._after_decision_to_assess(what, "decided_on", decided_on)
        self._plan_not_issued(decided_on=decided_on, reason=reason)

    @event("PlanNotIssued")
    def _plan_not_issued(self, decided_on: date, reason: str) -> None:
        self.closed_on = decided_on
        self.status = CaseStatus.NOT_ISSUED

    def hold_annual_review(self, *, held_on: date, preparing_for_adulthood: bool) -> None:
        what = "ehc.annual_review_held"
        self._require_active_plan(what)
        assert self.issued_on is not None
        self._not_before(what, "held_on", held_on, self.issued_on, "the plan was issued")
        if any(r.held_on == held_on for r in self.reviews):
            raise self._refuse(what, f"an annual review held on {held_on} is already recorded")
        if self.reviews:
            last = self.reviews[-1].held_on
            self._not_before(what, "held_on", held_on, last, "the previous review")
        self._annual_review_held(held_on=held_on, preparing_for_adulthood=preparing_for_adulthood)

    @event("AnnualReviewHeld")
    def _annual_review_held(self, held_on: date, preparing_for_adulthood: bool) -> None:
        self.reviews.append(Review(held_on, preparing_for_adulthood))

    def decide_review_outcome(
        self, *, review_held_on: date, decided_on: date, outcome: str
    ) -> None:
        what = "ehc.review_outcome"
        self._require_active_plan(what)
        review = self._review_held_on(what, review_held_on)
        if review.outcome is not None:
            raise self._refuse(
                what,
                f"the review held on {review_held_on} already has the outcome "
                f"'{review.outcome}' (decided on {review.decided_on})",
            )
        self._not_before(what, "decided_on", decided_on, review_held_on, "the review meeting")
        self._review_outcome_decided(
            review_held_on=review_held_on, decided_on=decided_on, outcome=outcome
        )

    @event("ReviewOutcomeDecided")
    def _review_outcome_decided(self, review_held_on: date, decided_on: date, outcome: str) -> None:
        for review in self.reviews:
            if review.held_on == review_held_on:
                review.outcome, review.decided_on = outcome, decided_on

    def amend_plan(self, *, amended_on: date, trigger: str, review_held_on: date | None) -> None:
        what = "ehc.plan_amended"
        self._require_active_plan(what)
        assert self.issued_on is not None
        self._not_before(what, "amended_on", amended_on, self.issued_on, "the plan was issued")
        if review_held_on is not None:
            review = self._review_held_on(what, review_held_on)
            if review.outcome in ("maintain", "cease"):
                raise self._refuse(
                    what,
                    f"the LA decided to {review.outcome} the plan after the review held "
                    f"on {review_held_on}",
                )
            self._not_before(what, "amended_on", amended_on, review_held_on, "the review meeting")
        self._plan_amended(amended_on=amended_on, trigger=trigger, review_held_on=review_held_on)

    @event("PlanAmended")
    def _plan_amended(self, amended_on: date, trigger: str, review_held_on: date | None) -> None:
        self.last_amended_on = amended_on

    def cease_plan(self, *, ceased_on: date, reason: str) -> None:
        what = "ehc.plan_ceased"
        self._require_active_plan(what)
        assert self.issued_on is not None
        self._not_before(what, "ceased_on", ceased_on, self.issued_on, "the plan was issued")
        if self.reviews:
            last = self.reviews[-1].held_on
            self._not_before(what, "ceased_on", ceased_on, last, "the last annual review")
        if self.last_amended_on is not None:
            self._not_before(
                what, "ceased_on", ceased_on, self.last_amended_on, "the last amendment"
            )
        self._plan_ceased(ceased_on=ceased_on, reason=reason)

    @event("PlanCeased")
    def _plan_ceased(self, ceased_on: date, reason: str) -> None:
        self.closed_on = ceased_on
        self.status = CaseStatus.CEASED

    # -- disagreement (contracts/disagreement.py): at any stage, never before the request ----
    def seek_mediation_advice(self, *, sought_on: date, stage: str) -> None:
        what = "disagreement.mediation_advice_sought"
        self._not_before(what, "sought_on", sought_on, self.requested_on, "the request")
        self._mediation_advice_sought(sought_on=sought_on, stage=stage)

    @event("MediationAdviceSought")
    def _mediation_advice_sought(self, sought_on: date, stage: str) -> None:
        pass

    def hold_mediation(self, *, held_on: date, stage: str, agreement_reached: bool) -> None:
        what = "disagreement.mediation_held"
        self._not_before(what, "held_on", held_on, self.requested_on, "the request")
        self._mediation_held(held_on=held_on, stage=stage, agreement_reached=agreement_reached)

    @event("MediationHeld")
    def _mediation_held(self, held_on: date, stage: str, agreement_reached: bool) -> None:
        pass

    def register_appeal(self, *, appeal_id: str, registered_on: date, stage: str) -> None:
        what = "disagreement.appeal_registered"
        if appeal_id in self.appeals:
            raise self._refuse(
                what, f"appeal {appeal_id} was already registered on {self.appeals[appeal_id]}"
            )
        self._not_before(what, "registered_on", registered_on, self.requested_on, "the request")
        self._appeal_registered(appeal_id=appeal_id, registered_on=registered_on, stage=stage)

    @event("AppealRegistered")
    def _appeal_registered(self, appeal_id: str, registered_on: date, stage: str) -> None:
        self.appeals[appeal_id] = registered_on

    def decide_appeal(self, *, appeal_id: str, decided_on: date, outcome: str) -> None:
        what = "disagreement.appeal_decided"
        if appeal_id not in self.appeals:
            raise self._refuse(what, f"no open appeal {appeal_id} is registered for this case")
        registered = self.appeals[appeal_id]
        self._not_before(what, "decided_on", decided_on, registered, "the appeal was registered")
        self._appeal_decided(appeal_id=appeal_id, decided_on=decided_on, outcome=outcome)

    @event("AppealDecided")
    def _appeal_decided(self, appeal_id: str, decided_on: date, outcome: str) -> None:
        del self.appeals[appeal_id]


class PlanIndex(Bookkeeping):
    """Plan reference -> the case that holds it, so commands can name the plan alone."""

    @staticmethod
    def create_id(org: str, plan_id: str) -> UUID:
        return reference_id(org, "plan", plan_id)

    @event("Indexed")
    def __init__(self, org: str, plan_id: str, case: UUID) -> None:
        self.case = case
