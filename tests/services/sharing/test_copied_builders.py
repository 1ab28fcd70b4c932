"""Translators derive each contract payload from the stored event's fields of the same names:
a contract field the aggregate does not record is refused when the translator is defined,
naming the stored event, the payload and the field."""

from __future__ import annotations

import pytest

from contracts import ehc
from services.la.domain import EhcCase
from services.la.translation import CASE
from services.sharing.translation import Copy


def test_a_contract_field_the_aggregate_does_not_record_is_refused() -> None:
    with pytest.raises(TypeError) as refused:
        Copy(EhcCase.AssessmentDecided, ehc.PlanIssued, "decided_on", CASE)
    message = str(refused.value)
    assert message.startswith("EhcCase.AssessmentDecided -> PlanIssued: the stored event")
    assert "issued_on" in message and "primary_need" in message
    assert "case_id" not in message  # the translator knows it


def test_the_date_it_happened_must_be_recorded() -> None:
    with pytest.raises(TypeError, match="records no issued_on"):
        Copy(EhcCase.AssessmentDecided, ehc.AssessmentDecided, "issued_on", CASE)


def test_the_fields_the_event_lacks_are_what_the_translator_knows() -> None:
    build = Copy(EhcCase.AnnualReviewHeld, ehc.AnnualReviewHeld, "held_on", CASE)
    assert build.known == ("plan_id",)
    assert set(build.copied) == {"held_on", "preparing_for_adulthood"}
