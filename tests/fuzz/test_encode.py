"""`contracts.encode` gives exactly the bytes of `orjson.dumps(envelope.to_wire())`, the encoding
every stored body, chain hash and published message was made with before it went straight from
pydantic's serialiser to JSON: the demo partnership's events, sealed and erased ones, and any
envelope that decodes after a field was replaced by arbitrary JSON (text with control
characters and any Unicode, floats, nesting)."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_harness import json_values
from test_decoder import valid_wire

from contracts import DecodeError, Envelope, decode, encode
from contracts.provider import PartTimeTimetableStarted
from contracts.sealing import seal, withhold
from sendx.demo.population import generate_wire

KEY = os.urandom(32)


def old_encode(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.to_wire())


def test_every_event_of_the_demo_partnership_encodes_as_before() -> None:
    for wire in itertools.islice(generate_wire("small", 1), 20_000):
        envelope = decode(wire.data)
        assert encode(envelope) == old_encode(envelope) == wire.data
        sealed = seal(envelope, KEY)
        assert encode(sealed) == old_encode(sealed)
        withheld = withhold(sealed)
        assert encode(withheld) == old_encode(withheld)


@given(st.floats(min_value=0, max_value=32.5, exclude_min=True, exclude_max=True))
def test_floats_encode_as_before(hours: float) -> None:
    payload = PartTimeTimetableStarted.model_validate({
        "timetable_id": "100001-T-1", "started_on": "2025-01-06", "hours_per_week": hours,
        "reason": "medical",
    })
    envelope = Envelope.wrap(payload, source_org="100001", person_key="p_" + "0" * 32,
                             occurred_at=datetime(2025, 1, 6, tzinfo=UTC), source_position=1)
    assert encode(envelope) == old_encode(envelope)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(valid_wire())), json_values, st.booleans())
def test_any_envelope_that_decodes_encodes_as_before(
    key: str, value: Any, in_payload: bool
) -> None:
    wire = valid_wire()
    if in_payload:
        wire["payload"][sorted(wire["payload"])[hash(key) % len(wire["payload"])]] = value
    else:
        wire[key] = value
    try:
        envelope = decode(orjson.dumps(wire))
    except DecodeError:
        return
    assert encode(envelope) == old_encode(envelope)
