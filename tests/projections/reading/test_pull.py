"""Fetching from a durable consumer through one callback subscription
(`projections.reading.pull`)."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from contracts.subjects import event_subject
from projections.reading.pull import BatchPull, PullError
from runtime.bus.streams import EVENTS_STREAM
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SUBJECT = event_subject("856", "ehc.plan_issued", "p_" + "a" * 32)


async def consumer(js: JetStreamContext, name: str = "puller") -> str:
    await js.add_consumer(EVENTS_STREAM, ConsumerConfig(durable_name=name,
                                                        ack_policy=AckPolicy.ALL))
    return name


async def test_a_fetch_without_waiting_returns_what_is_there_in_order_and_at_most_the_batch(
    nc: Client, js: JetStreamContext
) -> None:
    # given five messages on the stream
    for n in range(5):
        await js.publish(SUBJECT, f"{n}".encode())
    pull = await BatchPull(nc, EVENTS_STREAM, await consumer(js)).open()
    # when the runner asks for three, then for up to a hundred
    first = await pull.fetch(3, timeout=2, wait=False)
    rest = await pull.fetch(100, timeout=2, wait=False)
    # then it gets the first three, then the other two, in stream order
    assert [m.metadata.sequence.stream for m in first] == [1, 2, 3]
    assert [m.data for m in rest] == [b"3", b"4"]
    assert rest[-1].metadata.num_pending == 0
    # and when nothing is left, asking says so at once rather than waiting out its timeout
    # (a fetch that waited its 60 s would be cut short by `wait_for` with a plain TimeoutError)
    with pytest.raises(nats.errors.TimeoutError):
        await asyncio.wait_for(pull.fetch(100, timeout=60, wait=False), 30)
    await pull.close()


async def waiting_requests(js: JetStreamContext, name: str = "puller") -> int:
    """Pull requests the server holds for the consumer: a fetch is waiting once this is 1."""
    return (await js.consumer_info(EVENTS_STREAM, name)).num_waiting


async def test_a_waiting_fetch_of_one_returns_as_soon_as_a_message_arrives(
    nc: Client, js: JetStreamContext
) -> None:
    # given a caught-up consumer and a fetch, waiting at the server, that may wait a minute
    pull = await BatchPull(nc, EVENTS_STREAM, await consumer(js)).open()
    fetch = asyncio.create_task(pull.fetch(1, timeout=60, wait=True))
    await eventually(lambda: waiting_requests(js), 20, what="the fetch waiting at the server")
    # when a message is published
    await js.publish(SUBJECT, b"news")
    # then the fetch returns with it, not when its minute is up
    msgs = await asyncio.wait_for(fetch, 30)
    assert [m.data for m in msgs] == [b"news"]
    await pull.close()


async def test_a_waiting_fetch_with_nothing_to_deliver_times_out(
    nc: Client, js: JetStreamContext
) -> None:
    pull = await BatchPull(nc, EVENTS_STREAM, await consumer(js)).open()
    with pytest.raises(nats.errors.TimeoutError):
        await pull.fetch(1, timeout=0.3, wait=True)
    await pull.close()


async def test_pulling_from_a_consumer_that_does_not_exist_is_an_error_naming_the_status(
    nc: Client, js: JetStreamContext
) -> None:
    # given no consumer named "gone"
    pull = await BatchPull(nc, EVENTS_STREAM, "gone").open()
    # when the runner pulls from it, then it hears why rather than waiting for ever
    with pytest.raises(PullError, match="503"):
        await pull.fetch(10, timeout=2, wait=False)
    await pull.close()
