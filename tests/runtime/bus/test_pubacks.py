"""Publishes acknowledged through one inbox (`runtime.bus.pubacks`): each future is the
stream's own answer, whatever order the acks come back in, its errors included."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, NoStreamResponseError

from runtime.bus.pubacks import PubAcks


async def test_each_future_is_its_own_message_s_ack(nc: Client, js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="ACKS", subjects=["acks.>"]))
    acks = PubAcks(nc)
    futures = [await acks.publish(f"acks.{i}", b"x", {"Nats-Msg-Id": f"m{i}"}) for i in range(50)]
    again = await acks.publish("acks.7", b"x", {"Nats-Msg-Id": "m7"})
    got = await asyncio.wait_for(asyncio.gather(*futures, again), 10)
    assert [a.seq for a in got[:50]] == list(range(1, 51))
    assert (got[50].seq, got[50].duplicate) == (8, True)  # the stream's own dedup answer
    stored = await js.get_msg("ACKS", 8)
    assert stored.subject == "acks.7"
    await acks.close()


async def test_errors_are_the_streams(nc: Client, js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="ACKS", subjects=["acks.>"]))
    acks = PubAcks(nc)
    nowhere = await acks.publish("nobody.listens", b"x")
    with pytest.raises(NoStreamResponseError):
        await asyncio.wait_for(nowhere, 10)
    wrong = await acks.publish("acks.1", b"x", {"Nats-Expected-Stream": "OTHER"})
    with pytest.raises(BadRequestError, match="expected stream does not match"):
        await asyncio.wait_for(wrong, 10)
    await acks.close()
