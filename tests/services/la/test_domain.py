"""The LA's EHC rules, told as stories: what may follow what, and what the partner is told."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from services.domain.aggregates import DomainError
from services.la.domain import CaseStatus, EhcCase
from services.la.people import Person


def requested_case(requested_on: date = date(2025, 1, 6)) -> EhcCase:
    return EhcCase(
        org="856",
        case_id="856-C-1",
        person_id=uuid4(),
        requested_on=requested_on,
        requested_by="parent",
    )


def assessed_case(requested_on: date = date(2025, 1, 6)) -> EhcCase:
    case = requested_case(requested_on)
    case.decide_assessment(decided_on=date(2025, 2, 10), decision="assess")
    return case


def issue(case: EhcCase, on: date, exception: str | None = None) -> None:
    case.issue_plan(
        plan_id="856-P-1",
        issued_on=on,
        primary_need="ASD",
        placement="mainstream",
        placement_provider=None,
        exception=exception,
    )


def planned_case() -> EhcCase:
    case = assessed_case()
    issue(case, date(2025, 5, 19))
    return case


def test_plan_issued_within_20_weeks_is_on_time() -> None:
    # given a case requested on 6 January and assessed
    case = assessed_case()
    # when the plan is issued exactly 20 weeks later
    issue(case, date(2025, 5, 26))
    # then it is issued on the day the 20 weeks run out
    assert case.plan_due == date(2025, 5, 26)
    assert case.issued_on == case.plan_due
    assert case.status is CaseStatus.PLAN_ACTIVE


def test_plan_issued_after_21_weeks_is_late() -> None:
    case = assessed_case()
    issue(case, date(2025, 6, 2))
    assert case.issued_on is not None and case.issued_on > case.plan_due


def test_decision_to_assess_is_due_six_weeks_after_the_request() -> None:
    assert requested_case().decision_due == date(2025, 2, 17)


def test_plan_cannot_be_issued_before_the_decision_to_assess() -> None:
    # given a request with no decision yet
    case = requested_case()
    # when the LA tries to issue a plan, then the partner is told why not
    with pytest.raises(
        DomainError, match="ehc.plan_issued for case 856-C-1: no decision to assess is recorded yet"
    ):
        issue(case, date(2025, 5, 1))


def test_plan_cannot_be_issued_after_a_refusal_to_assess() -> None:
    case = requested_case()
    case.decide_assessment(decided_on=date(2025, 2, 3), decision="refuse")
    with pytest.raises(DomainError, match="the LA refused to assess on 2025-02-03"):
        issue(case, date(2025, 5, 1))


def test_a_case_is_decided_once() -> None:
    case = assessed_case()
    with pytest.raises(
        DomainError,
        match="ehc.assessment_decided for case 856-C-1: the decision was already made on 2025-02-1",
    ):
        case.decide_assessment(decided_on=date(2025, 2, 11), decision="refuse")


def test_a_decision_cannot_predate_the_request() -> None:
    case = requested_case()
    with pytest.raises(
        DomainError, match="decided_on 2025-01-01 is before the request on 2025-01-06"
    ):
        case.decide_assessment(decided_on=date(2025, 1, 1), decision="assess")


def test_a_second_plan_cannot_be_issued_for_the_same_case() -> None:
    case = planned_case()
    with pytest.raises(DomainError, match="plan 856-P-1 was already issued on 2025-05-19"):
        issue(case, date(2025, 6, 1))


def test_annual_review_of_a_ceased_plan_is_refused_with_the_cease_date() -> None:
    # given a plan ceased on 1 January
    case = planned_case()
    case.cease_plan(ceased_on=date(2026, 1, 1), reason="needs_met")
    # when a review is recorded afterwards, then the partner is told the plan had ceased
    with pytest.raises(DomainError) as refused:
        case.hold_annual_review(held_on=date(2026, 5, 1), preparing_for_adulthood=False)
    assert (
        str(refused.value)
        == "ehc.annual_review_held for plan 856-P-1: the plan was ceased on 2026-01-01"
    )


def test_next_review_is_due_twelve_months_after_the_last_review() -> None:
    case = planned_case()
    assert case.next_review_due == date(2026, 5, 19)
    case.hold_annual_review(held_on=date(2026, 4, 30), preparing_for_adulthood=True)
    assert case.next_review_due == date(2027, 4, 30)


def test_a_review_outcome_needs_a_recorded_review() -> None:
    case = planned_case()
    with pytest.raises(
        DomainError,
        match="ehc.review_outcome for plan 856-P-1: no annual review held on 2026-05-01 is record",
    ):
        case.decide_review_outcome(
            review_held_on=date(2026, 5, 1), decided_on=date(2026, 5, 20), outcome="amend"
        )


def test_a_plan_the_la_decided_to_maintain_cannot_be_amended_for_that_review() -> None:
    # given a review whose outcome was to maintain the plan
    case = planned_case()
    case.hold_annual_review(held_on=date(2026, 5, 1), preparing_for_adulthood=False)
    case.decide_review_outcome(
        review_held_on=date(2026, 5, 1), decided_on=date(2026, 5, 15), outcome="maintain"
    )
    # when an amendment cites that review, then it is refused naming the decision
    with pytest.raises(
        DomainError, match="the LA decided to maintain the plan after the review held on 2026-05-01"
    ):
        case.amend_plan(
            amended_on=date(2026, 7, 1), trigger="annual_review", review_held_on=date(2026, 5, 1)
        )


def test_amendment_after_a_review_that_decided_to_amend_is_recorded() -> None:
    case = planned_case()
    case.hold_annual_review(held_on=date(2026, 5, 1), preparing_for_adulthood=False)
    case.decide_review_outcome(
        review_held_on=date(2026, 5, 1), decided_on=date(2026, 5, 15), outcome="amend"
    )
    case.amend_plan(
        amended_on=date(2026, 7, 10), trigger="annual_review", review_held_on=date(2026, 5, 1)
    )
    assert case.last_amended_on == date(2026, 7, 10)


def test_advice_is_requested_only_while_assessing() -> None:
    case = requested_case()
    with pytest.raises(
        DomainError, match="ehc.advice_requested for case 856-C-1: no decision to assess"
    ):
        case.request_advice(
            advice_request_id="A1",
            requested_on=date(2025, 2, 1),
            advice_giver="health",
            requested_from="QK1",
        )


def test_transition_milestones_cannot_predate_birth() -> None:
    person = Person(
        org="856",
        nhs_number="9434765919",
        given_name="A",
        family_name="B",
        born_on=date(2011, 4, 17),
    )
    with pytest.raises(DomainError, match="assigned_on 2010-01-01 is before their date of birth"):
        person.assign_named_worker(assigned_on=date(2010, 1, 1), worker_role="send_officer")
