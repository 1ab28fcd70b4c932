"""The synthetic population: deterministic, valid on the wire, chained per source, out of order
across organisations, free of identifiers; and the raw-bus yardstick that measures it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from bench.yardstick import run_yardstick
from contracts import decode, encode
from contracts.chain import chain_breaks
from contracts.topology import PUBLISHES, OrgKind
from runtime.ownership import OpenedReferences
from sendx.demo.population import SCALES, cast_for, generate, generate_wire

HEX_FIELDS = ("event_id", "correlation_id", "causation_id", "person_key", "prev_hash")
NAMES = {"oliver", "amelia", "olivia", "george", "muhammad", "smith", "jones", "taylor", "brown",
         "williams", "patel", "khan", "harry", "isla", "jack", "emily", "noah", "ava"}


@pytest.fixture(scope="module")
def tiny() -> list:
    return list(generate_wire("tiny", 1))


@pytest.fixture(scope="module")
def decoded(tiny: list) -> list:
    return [decode(m.data, subject=m.subject) for m in tiny]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    first = [m.data for _, m in zip(range(2_000), generate_wire("tiny", 7), strict=False)]
    again = [m.data for _, m in zip(range(2_000), generate_wire("tiny", 7), strict=False)]
    other = [m.data for _, m in zip(range(2_000), generate_wire("tiny", 8), strict=False)]
    assert first == again
    assert first != other


def test_every_event_decodes_against_its_subject_and_msg_id(tiny: list, decoded: list) -> None:
    assert len(tiny) > 2_000
    for message, envelope in zip(tiny, decoded, strict=True):
        assert message.msg_id == str(envelope.event_id)
        assert encode(envelope) == message.data


def test_the_validated_path_yields_the_same_events_as_the_fast_path(tiny: list) -> None:
    validated = [encode(e) for _, e in zip(range(500), generate("tiny", 1), strict=False)]
    assert validated == [m.data for m in tiny[:500]]


def test_each_source_numbers_and_chains_its_log_in_delivery_order(decoded: list) -> None:
    last: dict[str, tuple[int, str]] = {}
    for envelope in decoded:
        position, digest = last.get(envelope.source_org, (0, None))
        # then positions run 1, 2, 3... per source and each event names its predecessor's hash
        assert envelope.source_position == position + 1
        assert envelope.prev_hash == digest
        last[envelope.source_org] = (envelope.source_position,
                                     hashlib.sha256(encode(envelope)).hexdigest())
    assert len(last) >= 8


def test_every_source_chain_checks_out_with_the_auditors_function(
    tiny: list, decoded: list
) -> None:
    by_source: dict[str, list] = {}
    for message, envelope in zip(tiny, decoded, strict=True):
        by_source.setdefault(envelope.source_org, []).append((message.data, envelope))
    assert all(chain_breaks(pairs) == [] for pairs in by_source.values())


def test_organisations_publish_only_what_the_topology_allows(decoded: list) -> None:
    cast = cast_for(0, 1)
    for envelope in decoded:
        kind = (OrgKind.LA if envelope.source_org in cast.las else
                OrgKind.ICB if envelope.source_org in (cast.icb, cast.trust) else OrgKind.PROVIDER)
        assert envelope.type in PUBLISHES[kind]


def test_no_source_acts_on_a_case_plan_referral_or_placement_it_never_opened(
    decoded: list,
) -> None:
    # the projections dead-letter such an event (runtime.ownership), so the population has none
    opened = OpenedReferences()
    refused = [why for e in decoded if (why := opened.judge_envelope(e)) is not None]
    assert refused == []
    assert {thing for thing, *_ in opened.opened} == {
        "case", "plan", "referral", "placement", "timetable"}


def test_events_arrive_out_of_order_across_organisations(decoded: list) -> None:
    # given each person's latest occurred_at per organisation seen so far on the bus
    latest: dict[tuple[str, str], datetime] = {}
    overtaken = 0
    for envelope in decoded:
        for org in {"856", "855", "857", "QK1", "RT5"} - {envelope.source_org}:
            seen = latest.get((envelope.person_key, org))
            if seen is not None and seen > envelope.occurred_at:
                overtaken += 1  # another organisation's later event reached the bus first
        key = (envelope.person_key, envelope.source_org)
        latest[key] = max(latest.get(key, envelope.occurred_at), envelope.occurred_at)
    assert overtaken >= 20


def test_advice_can_reach_the_bus_before_the_request_it_answers(decoded: list) -> None:
    requested: set[str] = set()
    early = 0
    for envelope in decoded:
        if envelope.type == "ehc.assessment_requested":
            requested.add(envelope.payload.case_id)
        elif envelope.type in {"ehc.advice_returned", "ehc.plan_issued"}:
            early += envelope.payload.case_id not in requested
    assert early >= 1


def test_dates_fall_in_the_window_and_are_recorded_after_they_happen(decoded: list) -> None:
    start, cut = datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    for envelope in decoded:
        assert start <= envelope.occurred_at <= envelope.recorded_at < cut
    lags = sorted((e.recorded_at - e.occurred_at).days for e in decoded)
    assert lags[len(lags) // 2] <= 3 and lags[-1] >= 30


def test_no_nhs_number_like_digits_or_names_reach_the_bus(tiny: list) -> None:
    for message in tiny:
        wire = orjson.loads(message.data)
        for field in HEX_FIELDS:  # pseudonymous hex, validated by the envelope's patterns
            wire.pop(field)
        text = orjson.dumps(wire).decode()
        assert not re.search(r"\d{10}", text), text
        tokens = set(re.findall(r"[a-z]+", text.lower()))
        assert not tokens & NAMES, text


def test_plans_are_issued_for_about_half_within_twenty_weeks(decoded: list) -> None:
    requested = {e.payload.case_id: e.payload.requested_on for e in decoded
                 if e.type == "ehc.assessment_requested"}
    issued = [e.payload for e in decoded if e.type == "ehc.plan_issued"
              and e.payload.exception is None and e.payload.case_id in requested]
    on_time = sum((p.issued_on - requested[p.case_id]).days <= 140 for p in issued)
    assert 0.35 <= on_time / len(issued) <= 0.65


def test_the_national_scale_is_a_lazy_stream_of_distinct_partnerships() -> None:
    stream = generate_wire("national", 1)
    assert isinstance(stream, Iterator)  # nothing generated until iterated
    blocks = SCALES["national"].blocks
    codes = [code for block in range(blocks) for code in cast_for(block, blocks).codes]
    assert len(codes) == len(set(codes))
    assert SCALES["national"].plans > 600_000


@pytest.mark.integration
def test_the_yardstick_measures_a_small_run_and_the_stream_holds_every_event(tiny: list) -> None:
    # when the raw bus publishes and consumes a few thousand events
    result = run_yardstick(tiny, window=500, batch=200)
    # then every event is stored once and both rates are real
    assert result.stream_messages == len(tiny) == result.events
    assert result.duplicates == 0
    assert result.publish_rate > 0 and result.consume_rate > 0
    assert result.bytes_per_event > result.body_bytes_per_event > 100
