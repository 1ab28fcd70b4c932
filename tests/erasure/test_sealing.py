"""Personal fields travel sealed: readable with the person's key, erased without it, and any
change to the ciphertext is caught (contracts.sealing + contracts.decode)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import orjson
import pytest

from contracts import DecodeError, Envelope, decode, encode
from contracts.health import DiagnosisRecorded
from contracts.person import PersonErased, PersonRegistered
from contracts.sealing import (
    SealError,
    forget_erased,
    key_name,
    open_feed_fields,
    open_value,
    reseal_for_feed,
    seal,
    seal_value,
)

PERSON = "p_" + "1" * 32
OTHER = "p_" + "2" * 32
KEY = os.urandom(32)


def registered(person: str = PERSON, month: str = "2011-04") -> Envelope:
    return Envelope.wrap(
        PersonRegistered(birth_month=month), source_org="856", person_key=person,
        occurred_at=datetime(2025, 1, 6, tzinfo=UTC), source_position=1,
    )


def diagnosed(person: str = PERSON) -> Envelope:
    payload = DiagnosisRecorded(
        diagnosis_id="QK1-D-1", diagnosed_on=date(2025, 3, 1), condition="autism",
        referral_id="QK1-R-1",
    )
    return Envelope.wrap(payload, source_org="QK1", person_key=person,
                         occurred_at=datetime(2025, 3, 1, tzinfo=UTC), source_position=3)


def erasure(person: str = PERSON, by: str = "856") -> Envelope:
    return Envelope.wrap(
        PersonErased(erased_on=date(2026, 1, 5), reason="data_subject_request"),
        source_org=by, person_key=person, occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        source_position=9,
    )


def test_a_sealed_birth_month_is_not_on_the_wire_but_opens_with_the_persons_key() -> None:
    # given a registration sealed under the person's key
    wire = encode(seal(registered(), KEY))
    # then the birth month is nowhere in the bytes
    assert b"2011-04" not in wire
    assert orjson.loads(wire)["payload"] == {}
    # when it is decoded with the key
    event = decode(wire, keys={key_name("856", PERSON): KEY}.get)
    # then the birth month is back, validated, and nothing is marked erased
    assert event.payload.birth_month == "2011-04"
    assert event.sealed is None and event.erased is None


def test_without_the_key_the_fields_read_as_erased_and_the_rest_stays() -> None:
    # given a sealed diagnosis whose person has been erased (no key any more)
    wire = encode(seal(diagnosed(), KEY))
    # when it is decoded
    event = decode(wire, keys=lambda person_key: None)
    # then the condition is erased, the clear fields the counts need remain
    assert event.payload.condition is None
    assert event.erased == ("condition",)
    assert event.payload.diagnosed_on == date(2025, 3, 1)
    assert event.payload.referral_id == "QK1-R-1"


def test_decoding_without_a_key_lookup_keeps_the_exact_bytes() -> None:
    # given a sealed event
    wire = encode(seal(registered(), KEY))
    # when it is decoded without keys (the auditor's chain check, a dead-letter retry)
    event = decode(wire)
    # then the ciphertext is kept and re-encoding gives the same bytes the chain covers
    assert event.payload.birth_month is None and event.sealed is not None
    assert encode(event) == wire


def test_sealing_the_same_event_twice_gives_the_same_bytes() -> None:
    # a relay republishing after a crash must chain the bytes the stream kept
    event = registered()
    assert encode(seal(event, KEY)) == encode(seal(event, KEY))


def test_a_tampered_ciphertext_is_refused_naming_the_field() -> None:
    # given a sealed event whose ciphertext had one character changed on the way
    body = orjson.loads(encode(seal(registered(), KEY)))
    token = body["sealed"]["birth_month"]
    body["sealed"]["birth_month"] = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    # when it is decoded with the key
    with pytest.raises(DecodeError) as caught:
        decode(orjson.dumps(body), keys={key_name("856", PERSON): KEY}.get)
    # then the GCM tag fails and the error says which field and why
    assert caught.value.reason == "bad_seal"
    assert "birth_month" in str(caught.value) and "does not authenticate" in str(caught.value)


def test_a_sealed_value_moved_to_another_persons_event_does_not_open() -> None:
    # given the sealed birth month of one person pasted into another person's event
    theirs = orjson.loads(encode(seal(registered(OTHER, "2009-01"), KEY)))
    ours = orjson.loads(encode(seal(registered(), KEY)))
    ours["sealed"] = theirs["sealed"]
    # then it is refused, even under the same key
    with pytest.raises(DecodeError, match="does not authenticate"):
        decode(orjson.dumps(ours), keys=lambda person_key: KEY)


def test_a_wrong_or_short_key_is_an_error_not_a_silent_erasure() -> None:
    token = seal_value(KEY, "2011-04", event_id="e", person_key=PERSON,
                       event_type="person.registered", field="birth_month")
    with pytest.raises(SealError, match="does not authenticate"):
        open_value(os.urandom(32), token, event_id="e", person_key=PERSON,
                   event_type="person.registered", field="birth_month")
    with pytest.raises(SealError, match="32 bytes"):
        seal_value(b"short", "x", event_id="e", person_key=PERSON, event_type="t", field="f")


def test_a_v2_registration_with_no_birth_month_at_all_is_refused() -> None:
    # given a v2 event that neither carries, seals nor erases its personal field
    body = orjson.loads(encode(registered()))
    body["payload"] = {}
    with pytest.raises(DecodeError) as caught:
        decode(orjson.dumps(body))
    assert caught.value.reason == "bad_payload"
    assert "payload.birth_month: missing" in str(caught.value)


def test_only_personal_fields_may_be_sealed() -> None:
    body = orjson.loads(encode(seal(diagnosed(), KEY)))
    body["sealed"]["diagnosis_id"] = body["sealed"].pop("condition")
    with pytest.raises(DecodeError, match="diagnosis_id is sealed or erased but is not a personal"):
        decode(orjson.dumps(body))


def test_a_v1_registration_in_clear_still_decodes_as_the_current_version() -> None:
    # given a person.registered v1 event published before sealing existed
    body = orjson.loads(encode(registered()))
    body["schema_version"] = 1
    # when decoded (with or without keys)
    event = decode(orjson.dumps(body), keys=lambda person_key: None)
    # then it is the current model, its birth month as published
    assert event.schema_version == 2 and event.payload.birth_month == "2011-04"


def test_forgetting_an_erased_person_withholds_what_the_erasing_organisation_shared_only() -> None:
    # given a history decoded with keys: one person later erased by LA 856, another not
    theirs = registered()
    history = [theirs, diagnosed(), registered(OTHER, "2009-01"), erasure()]
    # when the erased person is forgotten
    forgotten = {(e.person_key, e.type): e for e in forget_erased(history)}
    # then the LA's personal fields about them are gone and listed as erased; the ICB's
    # diagnosis is the ICB's to erase, and the other person's fields stay
    assert forgotten[(PERSON, "person.registered")].payload.birth_month is None
    assert forgotten[(PERSON, "person.registered")].erased == ("birth_month",)
    assert forgotten[(PERSON, "health.diagnosis_recorded")].payload.condition == "autism"
    assert forgotten[(OTHER, "person.registered")].payload.birth_month == "2009-01"
    # and once the ICB erases them too, its diagnosis goes as well
    both = {e.type: e for e in forget_erased([*history, erasure(by="QK1")])}
    assert both["health.diagnosis_recorded"].payload.condition is None
    # and what a live read model then stores is what a replay without the key decodes
    replayed = decode(encode(seal(theirs, KEY)), keys=lambda person_key: None)
    assert encode(forgotten[(PERSON, "person.registered")]) == encode(replayed)


def test_the_personal_fields_are_the_documented_ones() -> None:
    # contracts/sealing.py lists them; a new personal field must be added there too
    from contracts import all_events

    personal = {s.type: s.model.personal_fields for s in all_events()
                if s.current and s.model.personal_fields}
    assert personal == {
        "person.registered": ("birth_month",),
        "health.diagnosis_recorded": ("condition",),
    }


def test_a_field_opened_for_a_feed_reads_with_the_recipients_key_alone() -> None:
    # given a diagnosis sealed by the ICB, and the LA's feed key for it
    stored = orjson.loads(encode(seal(diagnosed(), KEY)))
    feed_key = os.urandom(32)
    # when the feed re-seals its condition for 856
    opened = reseal_for_feed(stored, ("condition",), KEY, feed_key, "856")
    # then 856 reads it with its feed key, and the token is the same every time (republish)
    assert open_feed_fields(stored, opened, feed_key, "856") == {"condition": "autism"}
    assert reseal_for_feed(stored, ("condition",), KEY, feed_key, "856") == opened
    assert "autism" not in orjson.dumps(opened).decode()
    # and not as another recipient, nor with the source's key, nor moved to another event
    with pytest.raises(SealError, match="condition does not authenticate"):
        open_feed_fields(stored, opened, feed_key, "855")
    with pytest.raises(SealError, match="condition does not authenticate"):
        open_feed_fields(stored, opened, KEY, "856")
    other = orjson.loads(encode(seal(diagnosed(OTHER), KEY)))
    with pytest.raises(SealError, match="condition does not authenticate"):
        open_feed_fields(other, opened, feed_key, "856")
    # and a field the event does not carry sealed is not opened
    assert reseal_for_feed(stored, ("birth_month",), KEY, feed_key, "856") == {}
