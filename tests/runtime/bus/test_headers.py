"""Headers parsed by `runtime.bus.headers` exactly as nats-py parses them, for any bytes: the
connection every process opens uses it, so a header it read differently would change what a
reader sees (a stream sequence, a subject, a status)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.js.api import StreamConfig

from runtime.bus import headers
from runtime.bus.connection import connect_bus
from runtime.bus.headers import NAMES_REMEMBERED, BusClient, parse_header_lines

_PIECES = st.sampled_from([
    b"Nats-Subject", b"Nats-Sequence", b" Nats-Stream ", b"Bad Name", b"Tab\tName", b"\x1cX",
    b"Caf\xc3\xa9", b":", b": ", b"\r\n", b"\r", b"\n", b" ", b"\t", b"value", b"\xff\xfe",
    b"sendx.events.856.ehc.plan_issued.p-1", b"2026-12-03T14:00:00Z", b"",
])


@given(st.lists(_PIECES, max_size=40).map(b"".join))
def test_any_header_block_parses_as_nats_py_parses_it(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


@given(st.binary(max_size=300))
def test_any_bytes_parse_as_nats_py_parses_them(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)  # remembered names too


def test_made_up_names_are_not_remembered_past_the_bound() -> None:
    many = b"".join(b"Name-%d: v\r\n" % i for i in range(NAMES_REMEMBERED * 2))
    parsed = parse_header_lines(many)
    assert len(parsed) == NAMES_REMEMBERED * 2
    assert parsed == Client._parse_header_lines(many)
    assert len(headers._names) <= NAMES_REMEMBERED


async def test_a_stored_message_reads_the_same_through_the_bus_client(nats_url: str) -> None:
    nc = await connect_bus(nats_url, name="test-headers")
    assert isinstance(nc, BusClient)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="HDRS", subjects=["hdrs.>"], allow_direct=True))
        sent = {"Nats-Msg-Id": "m-1", "Sendx-Opened": "x: y",
                "Sendx-Note": "naïve \u2013 dash"}
        await js.publish("hdrs.a", b"body", headers=sent)
        stored = await asyncio.wait_for(js.get_msg("HDRS", 1, direct=True), 10)
        assert stored.headers is not None
        assert stored.headers["Sendx-Opened"] == "x: y"
        assert stored.headers["Sendx-Note"] == "naïve \u2013 dash"
        assert stored.headers["Nats-Msg-Id"] == "m-1"
        assert stored.headers["Nats-Subject"] == "hdrs.a"
    finally:
        await nc.close()
