"""The wire format: orjson bytes in, a validated, current-version Envelope out, or a named error."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from contracts import DecodeError, Envelope, decode, encode
from contracts.ehc import PlanIssued
from contracts.subjects import event_subject

PERSON = "p_" + "0" * 32


def plan_issued() -> Envelope:
    payload = PlanIssued(
        case_id="856-C-1", plan_id="856-P-1", issued_on=date(2025, 5, 19),
        primary_need="ASD", placement="mainstream",
    )
    return Envelope.wrap(
        payload, source_org="856", person_key=PERSON,
        occurred_at=datetime(2025, 5, 19, tzinfo=UTC), source_position=1,
    )


def test_an_event_survives_the_wire_unchanged() -> None:
    event = plan_issued()
    assert decode(encode(event), subject=event_subject("856", "ehc.plan_issued", PERSON)) == event


@pytest.mark.parametrize(
    ("mutate", "reason", "says"),
    [
        (lambda d: b"{not json", "bad_json", "not valid JSON"),
        (lambda d: b"[1, 2]", "not_an_object", "JSON object"),
        (lambda d: {**d, "source_org": "lower"}, "bad_envelope", "source_org"),
        (lambda d: {**d, "type": "ehc.plan_exploded"}, "unknown_type", "ehc.plan_exploded"),
        (lambda d: {**d, "schema_version": 9}, "unknown_type", "no schema version 9"),
        (lambda d: {**d, "payload": {**d["payload"], "primary_need": "XYZ"}}, "bad_payload",
         "payload.primary_need"),
        (lambda d: {**d, "payload": {**d["payload"], "nhs_number": "9434765919"}}, "bad_payload",
         "payload.nhs_number"),
        (lambda d: {**d, "sealed": {"case_id": "A" * 40}}, "bad_payload",
         "case_id is sealed or erased but is not a personal field"),
        (lambda d: {**d, "erased": ["primary_need"]}, "bad_payload",
         "primary_need is sealed or erased but is not a personal field"),
    ],
)
def test_bad_input_is_refused_with_a_reason_naming_what_was_wrong(mutate, reason, says) -> None:
    wire = orjson.loads(encode(plan_issued()))
    bad = mutate(wire)
    data = bad if isinstance(bad, bytes) else orjson.dumps(bad)
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert caught.value.reason == reason
    assert says in str(caught.value)


def test_an_event_published_under_another_organisations_subject_is_refused() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(encode(plan_issued()), subject=event_subject("855", "ehc.plan_issued", PERSON))
    assert caught.value.reason == "subject_mismatch"
    assert "source_org=856" in str(caught.value)
