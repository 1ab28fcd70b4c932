"""A projector killed with SIGKILL while events stream in ends as a replay of the stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fault_harness import (
    PUBLISH_TIMEOUT,
    Processes,
    child_story,
    projector_args,
    publish_event,
    table_digests,
)
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.subjects import event_subject
from projections.dataset.projection import DATASET
from projections.reading.projection import durable_name
from projections.reading.rebuild import rebuild
from projections.reading.runner import ConsumerSettings, ProjectionRunner, bind_consumer
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONSUMER = durable_name(DATASET.name)


async def acked(js: JetStreamContext) -> int:
    """How far the projector has acknowledged (it acks only after committing)."""
    try:
        info = await js.consumer_info(EVENTS_STREAM, CONSUMER)
    except Exception:  # not created yet by the (re)starting projector
        return 0
    return info.ack_floor.stream_seq if info.ack_floor else 0


async def wait_for_ack_past(js: JetStreamContext, seq: int, timeout: float = 30) -> int:
    async def floor_past() -> int:
        floor = await acked(js)
        return floor if floor > seq else 0

    return await eventually(floor_past, timeout, what=f"the ack floor past {seq}", interval=0.02)


async def stream_in(js: JetStreamContext, until: asyncio.Event, junk_every: int = 50) -> int:
    """Publish children's events, with a malformed message every `junk_every`, until `until` is
    set (and at least 100 children); returns the number of malformed messages."""
    junk, position, published = 0, 1, 0
    for n in range(2000):
        if until.is_set() and n >= 100:
            break
        story = child_story(n, position)
        position += len(story)
        for envelope in story:
            await publish_event(js, envelope)
            published += 1
            if published % junk_every == 0:
                subject = event_subject("856", "ehc.plan_issued", envelope.person_key)
                await js.publish(subject, b'{"type": "ehc.plan_issued", "oops": ' + bytes(n),
                                 timeout=PUBLISH_TIMEOUT)
                junk += 1
        await asyncio.sleep(0.02)
    return junk


async def test_a_projector_killed_mid_batch_resumes_to_the_read_model_of_a_rebuild(
    nats_url: str, nc: Client, js: JetStreamContext, processes: Processes, tmp_path: Path
) -> None:
    # given the dataset projector as its own process, applying batches of 7
    db = tmp_path / "dataset.sqlite"
    projector = processes.start("projector", projector_args(nats_url, db, batch_size=7))
    projector.wait_for_output("starting after stream sequence")
    # when events stream in and the projector is killed with SIGKILL three times as it applies
    enough = asyncio.Event()
    publishing = asyncio.create_task(stream_in(js, enough))
    floor = 0
    for _ in range(3):
        floor = await wait_for_ack_past(js, floor + 20)
        assert not publishing.done()
        processes.kill(projector)
        projector = processes.start("projector", projector_args(nats_url, db, batch_size=7))
        projector.wait_for_output("starting after stream sequence")
    enough.set()
    junk = await publishing
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    await wait_for_ack_past(js, last - 1)
    assert processes.stop(projector) == 0
    # then its read model is exactly what a replay of the whole stream into a new store gives
    replayed_path = tmp_path / "replayed.sqlite"
    replayed = DATASET.open_store(replayed_path)
    report = await rebuild(nc, replayed)
    replayed.close()
    assert report.position == last
    assert table_digests(db) == table_digests(replayed_path)
    # and every malformed message was dead-lettered exactly once, despite the redeliveries
    assert junk >= 5
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == junk


async def test_a_batch_held_by_a_crashed_runner_is_applied_before_newer_events(
    nats_url: str, nc: Client, js: JetStreamContext, tmp_path: Path
) -> None:
    # given a runner that fetched the first batch of five and crashed before applying it
    stories = [child_story(n, 1) for n in range(6)]
    first, later = stories[:3], stories[3:]
    for envelope in (e for story in first for e in story):
        await publish_event(js, envelope)
    settings = ConsumerSettings(batch_size=5, fetch_timeout=0.2, retry_delay=0.2, ack_wait=1.0)
    crashed = await bind_consumer(js, CONSUMER, 0, settings)
    held = await crashed.fetch(5, timeout=2)
    assert len(held) == 5
    # when more events arrive and a new runner starts on the (empty) store
    for envelope in (e for story in later for e in story):
        await publish_event(js, envelope)
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    store = DATASET.open_store(tmp_path / "dataset.sqlite")
    runner = ProjectionRunner(nc, DATASET.name, store, settings)
    task = asyncio.create_task(runner.run())
    await eventually(lambda: runner.position >= last, 20, what="runner.position >= last")
    # ... and the server holds nothing unacknowledged, so no late redelivery can follow

    async def all_acked() -> bool:
        info = await js.consumer_info(EVENTS_STREAM, CONSUMER)
        return info.ack_floor.stream_seq >= last and info.num_ack_pending == 0

    await eventually(all_acked, 20, what=f"the ack floor at {last}")
    runner.stop()
    await task
    store.close()
    # then every event was applied, the held five included
    assert runner.applied == last
    replayed_path = tmp_path / "replayed.sqlite"
    replayed = DATASET.open_store(replayed_path)
    await rebuild(nc, replayed)
    replayed.close()
    assert table_digests(tmp_path / "dataset.sqlite") == table_digests(replayed_path)
