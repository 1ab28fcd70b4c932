"""`decode` assembles the envelope from parts it validated, without validating it twice: the
result must be the very envelope pydantic builds when it validates the whole event."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from contracts import Envelope, decode, encode
from contracts.ehc import PlanIssued

PERSON = "p_" + "1" * 32


def plan_issued(**envelope: object) -> Envelope:
    payload = PlanIssued(
        case_id="856-C-1", plan_id="856-P-1", issued_on=date(2025, 5, 19),
        primary_need="ASD", placement="mainstream",
    )
    return Envelope.wrap(
        payload, source_org="856", person_key=PERSON, source_position=3,
        occurred_at=datetime(2025, 5, 19, 9, tzinfo=UTC), **envelope,
    )


def fully_validated(data: bytes) -> Envelope:
    raw = orjson.loads(data)
    return Envelope.model_validate({**raw, "payload": PlanIssued.model_validate(raw["payload"])})


def test_a_decoded_event_equals_the_fully_validated_one_field_by_field() -> None:
    # given an event with and without its optional header fields
    for event in (plan_issued(), plan_issued(prev_hash="a" * 64)):
        data = encode(event)
        # when it is decoded
        decoded = decode(data)
        # then it is the envelope pydantic would build: same values, same fields set, same bytes
        expected = fully_validated(data)
        assert decoded == expected
        assert decoded.model_dump() == expected.model_dump()
        assert decoded.model_fields_set == expected.model_fields_set | {"payload"}
        assert encode(decoded) == data
        assert isinstance(decoded.payload, PlanIssued)
