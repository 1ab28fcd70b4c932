"""Versioned events: a v1 event, stored or in flight, still decodes as the current model."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from contracts import DecodeError, Envelope, current_version, decode, encode
from contracts.health import DiagnosisRecorded, ReferralMade, ReferralMadeV1
from contracts.subjects import event_subject

PERSON = "p_" + "1" * 32


def wire(event_type: str, version: int, payload: dict) -> bytes:
    """An event exactly as a v1-era publisher put it on the bus."""
    return orjson.dumps(
        {
            "event_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
            "type": event_type,
            "schema_version": version,
            "source_org": "RT5",
            "person_key": PERSON,
            "occurred_at": "2024-11-04T00:00:00Z",
            "recorded_at": "2024-11-04T09:00:00Z",
            "correlation_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
            "causation_id": None,
            "source_position": 1,
            "prev_hash": None,
            "payload": payload,
        }
    )


def test_a_v1_referral_on_the_bus_decodes_to_the_current_model_as_routine() -> None:
    # given a referral published as v1 (no priority)
    data = wire(
        "health.referral_made",
        1,
        {
            "referral_id": "RT5-R-1",
            "referred_on": "2024-11-04",
            "pathway": "neurodevelopmental",
        },
    )
    # when a consumer decodes it against its subject
    event = decode(data, subject=event_subject("RT5", "health.referral_made", PERSON))
    # then it reads the current model, with the v1 meaning made explicit
    assert current_version("health.referral_made") == 3
    assert event.schema_version == 3
    assert isinstance(event.payload, ReferralMade)
    assert event.payload.priority == "routine"
    assert event.payload.migrated_from is None  # observed live


def test_a_v2_referral_decodes_as_observed_live_and_a_go_live_one_names_its_system() -> None:
    fields = {"referral_id": "RT5-R-1", "referred_on": "2024-11-04", "pathway": "slt",
              "priority": "urgent"}
    live = decode(wire("health.referral_made", 2, fields))
    assert (live.schema_version, live.payload.migrated_from) == (3, None)
    migrated = decode(wire("health.referral_made", 3, {**fields, "migrated_from": "systmone"}))
    assert migrated.payload.migrated_from == "systmone"
    # and a v2 payload may not carry the v3 field
    with pytest.raises(DecodeError, match="payload.migrated_from"):
        decode(wire("health.referral_made", 2, {**fields, "migrated_from": "systmone"}))


def test_a_v1_diagnosis_decodes_with_the_referral_held_by_the_publisher() -> None:
    data = wire(
        "health.diagnosis_recorded",
        1,
        {
            "diagnosis_id": "RT5-D-1",
            "diagnosed_on": "2025-01-10",
            "condition": "autism",
            "referral_id": "RT5-R-1",
            "no_referral_reason": None,
        },
    )
    event = decode(data)
    assert isinstance(event.payload, DiagnosisRecorded)
    assert event.payload.referral_org is None and event.payload.referral_id == "RT5-R-1"


def test_the_current_referral_is_what_publishers_send_and_it_round_trips() -> None:
    payload = ReferralMade(
        referral_id="RT5-R-2", referred_on=date(2025, 1, 6), pathway="camhs", priority="urgent"
    )
    event = Envelope.wrap(
        payload,
        source_org="RT5",
        person_key=PERSON,
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC),
        source_position=2,
    )
    assert orjson.loads(encode(event))["schema_version"] == 3
    assert "migrated_from" not in orjson.loads(encode(event))["payload"]  # omitted when live
    assert decode(encode(event)) == event


def test_a_v1_payload_with_a_v2_field_is_refused_naming_the_field() -> None:
    data = wire(
        "health.referral_made",
        1,
        {
            "referral_id": "RT5-R-1",
            "referred_on": "2024-11-04",
            "pathway": "slt",
            "priority": "urgent",
        },
    )
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert caught.value.reason == "bad_payload"
    assert "payload.priority" in str(caught.value)


def test_the_v1_model_stays_registered_for_stored_events() -> None:
    assert ReferralMadeV1.schema_version == 1 and ReferralMade.schema_version == 3


def test_a_diagnosis_naming_another_organisations_referral_must_name_the_referral() -> None:
    with pytest.raises(ValueError, match="referral_org names who holds referral_id"):
        DiagnosisRecorded(
            diagnosis_id="D",
            diagnosed_on=date(2025, 1, 1),
            condition="adhd",
            referral_org="RWE",
            no_referral_reason="historic_record",
        )
