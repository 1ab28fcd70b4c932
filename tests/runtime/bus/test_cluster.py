"""A 3-node cluster loses no acknowledged event and stores none twice when a node crashes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest
from nats.js import JetStreamContext
from nats.js.api import PubAck

from contracts.subjects import event_subject
from runtime.bus.cluster import NatsCluster
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM, ensure_streams

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EVENTS = 3000
IN_FLIGHT = 50


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", size=3) as running:
        yield running


async def publish_until_acked(js: JetStreamContext, n: int, deadline: float) -> PubAck:
    """Publish event `n`, retrying with the same Nats-Msg-Id until the cluster acknowledges it."""
    subject = event_subject("856", "ehc.plan_issued", f"p_{n % 97:032d}")
    while True:
        try:
            return await js.publish(
                subject, f'{{"n": {n}}}'.encode(), headers={"Nats-Msg-Id": f"evt-{n}"}, timeout=2
            )
        except (nats.errors.Error, TimeoutError):  # no leader yet, or our node went away
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def stored_ids(js: JetStreamContext, last_seq: int) -> dict[int, str]:
    """stream sequence -> Nats-Msg-Id, read from the stream leader message by message.

    Not through a consumer: creating one needs the meta leader, which may be the node we killed
    and still being re-elected.
    """
    stored: dict[int, str] = {}
    for start in range(1, last_seq + 1, 200):
        seqs = range(start, min(start + 200, last_seq + 1))
        msgs = await asyncio.gather(*(js.get_msg(EVENTS_STREAM, seq) for seq in seqs))
        stored.update({msg.seq: (msg.headers or {})["Nats-Msg-Id"] for msg in msgs})
    return stored


async def test_acknowledged_events_survive_a_node_crash_exactly_once(
    cluster: NatsCluster,
) -> None:
    nc = await connect_bus(cluster.urls, name="test-cluster-relay")
    js = nc.jetstream()
    await ensure_streams(js, replicas=3)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    acks: dict[str, PubAck] = {}
    killed = None
    try:
        # when a relay publishes thousands of events, and the stream leader crashes half-way
        for start in range(0, EVENTS, IN_FLIGHT):
            if killed is None and start >= EVENTS // 2:
                leader = (await js.stream_info(EVENTS_STREAM)).cluster.leader
                killed = leader, cluster.kill(leader)
            batch = range(start, min(start + IN_FLIGHT, EVENTS))
            results = await asyncio.gather(*(publish_until_acked(js, n, deadline) for n in batch))
            acks.update({f"evt-{n}": ack for n, ack in zip(batch, results, strict=True)})
        # then every acknowledged event is in the stream once, at the sequence it was acked with
        info = await js.stream_info(EVENTS_STREAM)
        stored = await stored_ids(js, info.state.last_seq)
    finally:
        await nc.close()
    assert killed is not None and killed[0] not in (info.cluster.leader, None)
    assert len(acks) == EVENTS
    assert sorted(stored) == list(range(1, EVENTS + 1)), "gaps in the stream sequence"
    assert len(set(stored.values())) == len(stored), "an event was stored twice"
    assert {stored[ack.seq] for ack in acks.values()} == set(acks)
    assert all(stored[ack.seq] == msg_id for msg_id, ack in acks.items())
