"""Disagreement and complaints at the LA service, on a real SQLite file: the commands partners
send, what is shared, and the errors that name what was wrong."""

from __future__ import annotations

import pytest
from stories import NHS_NUMBER, story

from services.domain.aggregates import DomainError
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE

CASE = "856-C-1"


def send(app: LaApplication, name: str, **fields: object) -> None:
    app.execute(LA_CATALOGUE.parse(name, fields))


@pytest.fixture
def with_plan(la_app: LaApplication) -> LaApplication:
    for name, fields in story():
        send(la_app, name, **fields)
    return la_app


def test_an_appeal_is_decided_once_and_only_after_it_was_registered(
    with_plan: LaApplication,
) -> None:
    send(with_plan, "disagreement.register_appeal", case_id=CASE, appeal_id="856-T-1",
         registered_on="2025-06-02", stage="plan")
    with pytest.raises(DomainError) as early:
        send(with_plan, "disagreement.decide_appeal", case_id=CASE, appeal_id="856-T-1",
             decided_on="2025-05-30", outcome="upheld")
    assert str(early.value) == (
        "disagreement.appeal_decided for plan 856-P-1: decided_on 2025-05-30 is before the "
        "appeal was registered on 2025-06-02"
    )
    send(with_plan, "disagreement.decide_appeal", case_id=CASE, appeal_id="856-T-1",
         decided_on="2025-11-03", outcome="conceded")
    with pytest.raises(DomainError, match="no open appeal 856-T-1 is registered for this case"):
        send(with_plan, "disagreement.decide_appeal", case_id=CASE, appeal_id="856-T-1",
             decided_on="2025-11-04", outcome="upheld")


def test_mediation_before_the_request_or_for_an_unknown_case_is_refused(
    with_plan: LaApplication,
) -> None:
    with pytest.raises(DomainError) as early:
        send(with_plan, "disagreement.seek_mediation_advice", case_id=CASE,
             sought_on="2024-12-30", stage="request")
    assert "sought_on 2024-12-30 is before the request on 2025-01-06" in str(early.value)
    with pytest.raises(DomainError) as unknown:
        send(with_plan, "disagreement.hold_mediation", case_id="856-C-9", held_on="2025-03-03",
             stage="request", agreement_reached=True)
    assert str(unknown.value) == (
        "disagreement.mediation_held for case 856-C-9: no assessment request recorded by LA 856"
    )


def test_a_stage_outside_the_sen2_code_list_names_the_field_and_the_values() -> None:
    with pytest.raises(ValueError) as bad:
        LA_CATALOGUE.parse("disagreement.seek_mediation_advice",
                           {"case_id": CASE, "sought_on": "2025-03-03", "stage": "review"})
    assert "stage" in str(bad.value) and "'request', 'assessment' or 'plan'" in str(bad.value)


def test_a_complaint_is_resolved_once_not_before_it_was_received(
    with_plan: LaApplication,
) -> None:
    send(with_plan, "disagreement.receive_complaint", nhs_number=NHS_NUMBER,
         complaint_id="856-K-1", received_on="2025-06-02", subject="ehc_process")
    with pytest.raises(DomainError) as early:
        send(with_plan, "disagreement.resolve_complaint", complaint_id="856-K-1",
             resolved_on="2025-06-01", outcome="upheld")
    assert str(early.value) == (
        "disagreement.complaint_resolved for complaint 856-K-1: resolved_on 2025-06-01 is "
        "before it was received on 2025-06-02"
    )
    send(with_plan, "disagreement.resolve_complaint", complaint_id="856-K-1",
         resolved_on="2025-07-01", outcome="not_upheld")
    with pytest.raises(DomainError, match="already resolved on 2025-07-01"):
        send(with_plan, "disagreement.resolve_complaint", complaint_id="856-K-1",
             resolved_on="2025-07-02", outcome="upheld")
    with pytest.raises(DomainError, match="no complaint received by 856 has this id"):
        send(with_plan, "disagreement.resolve_complaint", complaint_id="856-K-2",
             resolved_on="2025-07-02", outcome="upheld")


def test_a_complaint_reference_is_received_once_and_not_before_the_persons_birth(
    with_plan: LaApplication,
) -> None:
    send(with_plan, "disagreement.receive_complaint", nhs_number=NHS_NUMBER,
         complaint_id="856-K-1", received_on="2025-06-02", subject="ehc_process")
    with pytest.raises(DomainError) as again:
        send(with_plan, "disagreement.receive_complaint", nhs_number=NHS_NUMBER,
             complaint_id="856-K-1", received_on="2025-06-09", subject="ehc_process")
    assert str(again.value) == (
        "disagreement.complaint_received for complaint 856-K-1: already received on 2025-06-02")
    with pytest.raises(DomainError, match="disagreement.complaint_received.*received_on 1900"):
        send(with_plan, "disagreement.receive_complaint", nhs_number=NHS_NUMBER,
             complaint_id="856-K-2", received_on="1900-01-01", subject="ehc_process")
