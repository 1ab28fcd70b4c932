"""Reading a stream range with batched direct gets (`projections.reading.direct`): the rebuild's
reader."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.subjects import ALL_EVENTS, event_subject
from projections.reading.batch import stream_seq
from projections.reading.direct import DirectReader
from runtime.bus.streams import EVENTS_STREAM, ensure_partitioned_stream, partitioned_events_stream
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def subject_of(n: int) -> str:
    return event_subject("856", "ehc.plan_issued", "p_" + f"{n:032x}")


async def test_the_reader_returns_the_range_in_order_in_batches_with_each_events_subject(
    nc: Client, js: JetStreamContext
) -> None:
    # given ten events
    for n in range(1, 11):
        await js.publish(subject_of(n), b'{"n": %d}' % n)
    # when sequences 2..8 are read three at a time
    reader = await DirectReader(nc, EVENTS_STREAM, ALL_EVENTS, start=2, stop=8, batch=3).open()
    batches = []
    while batch := await reader.next(timeout=5):
        batches.append([(stream_seq(m), m.subject, m.data) for m in batch])
    await reader.close()
    # then every event of the range comes once, in stream order, as it was published
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [item for b in batches for item in b] == [
        (n, subject_of(n), b'{"n": %d}' % n) for n in range(2, 9)
    ]


async def test_the_server_sends_no_more_than_the_batch_asked_for(
    nc: Client, js: JetStreamContext
) -> None:
    # given many more events than one batch
    for n in range(1, 201):
        await js.publish(subject_of(n), b"{}")
    before, asked_before = nc.stats["in_msgs"], nc.stats["out_msgs"]

    def received() -> int:
        return nc.stats["in_msgs"] - before

    # when a reader is opened (it asks for its first batch) and its batch has ended
    reader = await DirectReader(nc, EVENTS_STREAM, ALL_EVENTS, start=1, stop=200, batch=20).open()
    await eventually(lambda: received() >= 21, 20, what="the first batch and its end")
    # then it asked once, and only that batch (and its end-of-batch status) arrived: the reader
    # sets the pace
    assert (received(), nc.stats["out_msgs"] - asked_before) == (21, 1)
    # and taking it asks for exactly one more
    assert len(await reader.next(timeout=5)) == 20
    await eventually(lambda: received() >= 42, 20, what="the second batch and its end")
    assert (received(), nc.stats["out_msgs"] - asked_before) == (42, 2)
    await reader.close()


async def test_a_mirror_answering_direct_gets_for_the_stream_does_not_change_what_is_read(
    nc: Client, js: JetStreamContext
) -> None:
    # given the partitioned mirror the workers create: it answers direct gets sent to
    # SEND_EVENTS too (nats-server sets mirror_direct on it), with its rewritten subjects
    await ensure_partitioned_stream(js, 3)
    for n in range(1, 31):
        await js.publish(subject_of(n), b'{"n": %d}' % n)

    async def mirrored() -> bool:
        return (await js.stream_info(partitioned_events_stream(3).name)).state.last_seq >= 30

    await eventually(mirrored, 20, what="the mirror holding all thirty")
    # when the history is read one event at a time (thirty chances to be answered by the mirror)
    reader = await DirectReader(nc, EVENTS_STREAM, ALL_EVENTS, start=1, stop=30, batch=1).open()
    read = []
    while batch := await reader.next(timeout=10):
        read += [(stream_seq(m), m.subject) for m in batch]
    await reader.close()
    # then every event comes from SEND_EVENTS itself, in order, under its own subject
    assert read == [(n, subject_of(n)) for n in range(1, 31)]



class _LosesFirstBatch(DirectReader):
    """As if the connection had dropped the first batch's replies on the way."""

    async def _on_reply(self, msg: Msg) -> None:
        if not msg.subject.endswith(".1"):
            await super()._on_reply(msg)


async def test_a_batch_lost_on_the_way_is_asked_for_again(nc: Client, js: JetStreamContext) -> None:
    # given five events, and a reader whose first batch never arrives
    for n in range(1, 6):
        await js.publish(subject_of(n), b"{}")
    reader = await _LosesFirstBatch(nc, EVENTS_STREAM, ALL_EVENTS, start=1, stop=5, batch=5).open()
    # when it waits for the batch
    batch = await reader.next(timeout=0.5)
    await reader.close()
    # then the same batch, asked for again, is read in full
    assert [stream_seq(m) for m in batch] == [1, 2, 3, 4, 5]
