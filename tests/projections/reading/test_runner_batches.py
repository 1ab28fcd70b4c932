"""How the live runner batches: big batches while behind, one ack per batch, a live event shown
at once when caught up, and consumers from before batch acks replaced without losing a place."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

from projections.dataset.periods import Month
from projections.dataset.store import SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.reading.projection import StreamEvent, durable_name
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM
from tests.waiting import eventually

pytestmark = pytest.mark.integration

CONSUMER = durable_name("dataset")


class CountingStore:
    """The dataset store, counting the batches (transactions) the runner hands it."""

    def __init__(self, path: Path) -> None:
        self.store = SqliteDatasetStore(path)
        self.batches: list[int] = []

    def position(self) -> int:
        return self.store.position()

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        self.batches.append(len(events))
        return self.store.apply_batch(events, position)

    def close(self) -> None:
        self.store.close()


async def run_until(runner: ProjectionRunner, position: int, timeout: float = 20) -> None:
    await eventually(
        lambda: runner.position >= position, timeout, what=f"position {position}", interval=0.01
    )


async def test_a_backlog_is_applied_in_a_few_large_batches_each_acked_once(
    nats_url: str, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    # given 300 plans already on the stream
    for n in range(300):
        await publish(events.plan_issued(f"child-{n}", date(2025, 5, 2)))
    store = CountingStore(tmp_path / "dataset.sqlite")
    nc = await connect_bus(nats_url, name="test-batches")
    settings = ConsumerSettings(batch_size=20, max_batch=1000, fetch_timeout=0.5)
    runner = ProjectionRunner(nc, "dataset", store, settings)
    # when the runner catches up
    task = asyncio.create_task(runner.run())
    await run_until(runner, 300)

    # the ack follows the commit: wait for the ack floor, not only the runner's position
    async def acked_all() -> ConsumerInfo | None:
        info = await js.consumer_info(EVENTS_STREAM, CONSUMER)
        return info if info.ack_floor.stream_seq >= 300 else None

    info = await eventually(acked_all, 20, what="the ack floor at 300")
    runner.stop()
    await task
    # then it took far fewer transactions than batches of 20 would, every plan is counted,
    # and the consumer holds nothing unacknowledged (one ack per batch acked them all)
    assert sum(store.batches) == 300
    assert len(store.batches) < 300 // 20
    assert exact_counts(store.store, "active-plans", Month(2025, 5), "856")["la_count"] == 300
    assert info.config.ack_policy == AckPolicy.ALL
    assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 300
    store.close()
    await nc.close()


async def test_a_caught_up_runner_shows_a_new_event_long_before_its_fetch_times_out(
    nats_url: str, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    # given a caught-up runner waiting in a fetch that may wait 12 s for new events (and a stop
    # waits for the fetch to end)
    store = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    nc = await connect_bus(nats_url, name="test-live")
    settings = ConsumerSettings(batch_size=256, fetch_timeout=12.0)
    runner = ProjectionRunner(nc, "dataset", store, settings)
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    task = asyncio.create_task(runner.run())
    await run_until(runner, 1)

    async def fetch_waiting() -> bool:
        return (await js.consumer_info(EVENTS_STREAM, CONSUMER)).num_waiting > 0

    await eventually(fetch_waiting, 20, what="the runner's fetch waiting at the server")
    # when one more plan is published (far fewer than a batch)
    await publish(events.plan_issued("ben", date(2025, 5, 3)))
    # then it is applied while the fetch still had time to wait, not when the batch filled or
    # the fetch expired
    await run_until(runner, 2, timeout=8)
    runner.stop()
    await task
    assert exact_counts(store, "active-plans", Month(2025, 5), "856")["la_count"] == 2
    store.close()
    await nc.close()


async def test_a_consumer_that_acks_each_message_is_replaced_and_the_runner_resumes_in_place(
    nats_url: str, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    # given a store at position 2 and the consumer an older runner left (explicit acks)
    for name in ("amira", "ben", "cara"):
        await publish(events.plan_issued(name, date(2025, 5, 2)))
    store = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    nc = await connect_bus(nats_url, name="test-old-consumer")
    first_two = ProjectionRunner(nc, "dataset", store, ConsumerSettings(fetch_timeout=0.2))
    task = asyncio.create_task(first_two.run())
    await run_until(first_two, 3)
    first_two.stop()
    await task
    await js.delete_consumer(EVENTS_STREAM, CONSUMER)
    await js.add_consumer(EVENTS_STREAM, ConsumerConfig(
        durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=4,
    ))
    # when a new runner starts and one more plan arrives
    runner = ProjectionRunner(nc, "dataset", store, ConsumerSettings(fetch_timeout=0.2))
    task = asyncio.create_task(runner.run())
    await publish(events.plan_issued("dev", date(2025, 5, 2)))
    await run_until(runner, 4)
    runner.stop()
    await task
    # then the consumer acks per batch now and every plan is counted once
    info = await js.consumer_info(EVENTS_STREAM, CONSUMER)
    assert info.config.ack_policy == AckPolicy.ALL
    assert exact_counts(store, "active-plans", Month(2025, 5), "856")["la_count"] == 4
    assert runner.applied == 1
    store.close()
    await nc.close()


class HeldStore(CountingStore):
    """Holds its first batch until `release` is set: events published meanwhile queue up."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.holding = threading.Event()
        self.release = threading.Event()

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        if not self.batches:
            self.holding.set()
            self.release.wait(20)
        return super().apply_batch(events, position)


async def test_events_that_arrive_while_a_live_batch_is_applied_are_applied_as_one_batch(
    nats_url: str, publish, events, tmp_path: Path
) -> None:
    # given a caught-up runner applying one live plan, slowly
    store = HeldStore(tmp_path / "dataset.sqlite")
    nc = await connect_bus(nats_url, name="test-top-up")
    runner = ProjectionRunner(nc, "dataset", store, ConsumerSettings(fetch_timeout=5.0))
    task = asyncio.create_task(runner.run())
    await publish(events.plan_issued("child-0", date(2025, 5, 2)))
    await eventually(store.holding.is_set, 20, what="the first batch being applied")
    # when five more plans arrive meanwhile
    for n in range(1, 6):
        await publish(events.plan_issued(f"child-{n}", date(2025, 5, 2)))
    store.release.set()
    await run_until(runner, 6)
    runner.stop()
    await task
    # then they are one more batch (one commit), not the first to arrive and then the rest
    assert store.batches == [1, 5]
    assert exact_counts(store.store, "active-plans", Month(2025, 5), "856")["la_count"] == 6
    store.close()
    await nc.close()
