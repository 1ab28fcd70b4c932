"""The bus decoder under random bytes and mutated valid envelopes: an Envelope or a DecodeError
with a reason, never any other exception."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, get_args

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_harness import examples, json_values

from contracts import DecodeError, Envelope, decode, encode
from contracts.codec import DecodeReason
from contracts.ehc import PlanIssued
from contracts.subjects import event_subject

PERSON = "p_" + "0" * 32
REASONS = set(get_args(DecodeReason))
FUZZ = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def valid_wire() -> dict[str, Any]:
    payload = PlanIssued(
        case_id="856-C-1", plan_id="856-P-1", issued_on=date(2025, 5, 19),
        primary_need="ASD", placement="mainstream",
    )
    envelope = Envelope.wrap(
        payload, source_org="856", person_key=PERSON,
        occurred_at=datetime(2025, 5, 19, tzinfo=UTC), source_position=1,
    )
    return orjson.loads(encode(envelope))


def decodes_or_names_the_reason(data: bytes | str, subject: str | None = None) -> None:
    try:
        decode(data, subject=subject)
    except DecodeError as error:
        assert error.reason in REASONS
        assert str(error)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_reason(data: bytes) -> None:
    decodes_or_names_the_reason(data)


@FUZZ
@given(st.text(max_size=500))
def test_random_text_is_refused_with_a_reason(text: str) -> None:
    decodes_or_names_the_reason(text)


@FUZZ
@given(st.integers().map(str).map(str.encode))
def test_numbers_beyond_64_bits_are_refused_with_a_reason(digits: bytes) -> None:
    decodes_or_names_the_reason(b'{"event_id": ' + digits + b"}")


@FUZZ
@given(json_values)
def test_any_json_document_is_decoded_or_refused_with_a_reason(value: Any) -> None:
    decodes_or_names_the_reason(orjson.dumps(value))


@FUZZ
@given(
    st.sampled_from(sorted(valid_wire())),
    json_values,
    st.sampled_from(["envelope", "payload"]),
    st.text(max_size=80),
)
def test_a_valid_envelope_with_one_field_replaced_is_decoded_or_refused_with_a_reason(
    key: str, value: Any, where: str, subject_noise: str
) -> None:
    wire = valid_wire()
    if where == "payload":
        payload_keys = sorted(wire["payload"])
        wire["payload"][payload_keys[hash(key) % len(payload_keys)]] = value
    else:
        wire[key] = value
    decodes_or_names_the_reason(orjson.dumps(wire))
    decodes_or_names_the_reason(orjson.dumps(wire), subject=subject_noise)
    decodes_or_names_the_reason(
        orjson.dumps(wire), subject=event_subject("856", "ehc.plan_issued", PERSON)
    )


@FUZZ
@given(st.data())
def test_a_truncated_or_corrupted_envelope_is_refused_with_a_reason(data: st.DataObject) -> None:
    wire = orjson.dumps(valid_wire())
    cut = data.draw(st.integers(0, len(wire)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(wire) - 1), st.integers(0, 255)),
                               max_size=4))
    corrupted = bytearray(wire[:cut] if data.draw(st.booleans()) else wire)
    for index, byte in flips:
        if index < len(corrupted):
            corrupted[index] = byte
    decodes_or_names_the_reason(bytes(corrupted))


def test_the_valid_envelope_used_by_the_fuzzers_decodes() -> None:
    envelope = decode(orjson.dumps(valid_wire()))
    assert envelope.type == "ehc.plan_issued"
