"""How far partitioned projector workers have got, as a reader sees it: `/api/position` per
partition and overall, and a live feed that neither misses a partition's commit nor announces
an event before every partition up to it has committed it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sse_starlette import ServerSentEvent

from projections.dataset.projection import DATASET
from projections.reading.partitions import Partition, ReadModelProgress
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.serving.api import create_app
from projections.serving.live import ChangeAnnouncer, LiveFeed, change_stream
from runtime.bus.streams import EVENTS_STREAM, ensure_partitioned_stream
from tests.projections.reading.test_partitions import mirrored, publish_wire
from tests.waiting import eventually

pytestmark = pytest.mark.integration

FAST = ConsumerSettings(batch_size=20, fetch_timeout=0.2, retry_delay=0.2)
P0, P1, P2 = PARTITIONS = tuple(Partition(i, 3) for i in range(3))


def last_owned(published: Sequence[tuple[int, str]]) -> dict[str, int]:
    """Each partition's last published sequence."""
    return {p.name: max(seq for seq, person in published if p.owns(person)) for p in PARTITIONS}


def first_owned(published: Sequence[tuple[int, str]], partition: Partition) -> int:
    return min(seq for seq, person in published if partition.owns(person))


@asynccontextmanager
async def workers(nc: Client, db: Path, partitions: Sequence[Partition]) -> AsyncIterator[None]:
    """One worker per partition, each with its own store connection, announcing its commits."""
    stores = [DATASET.open_store(db) for _ in partitions]
    runners = [
        ProjectionRunner(nc, DATASET.name, store, FAST, partition=p,
                         on_commit=ChangeAnnouncer(nc, DATASET.name, partition=p))
        for p, store in zip(partitions, stores, strict=True)
    ]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.gather(*tasks)
        for store in stores:
            store.close()


async def until_committed(db: Path, wanted: dict[str, int], timeout: float = 30) -> None:
    store = DATASET.open_store(db)
    try:
        await eventually(
            lambda: all(store.position(name) >= seq for name, seq in wanted.items()), timeout,
            what=f"committed positions {wanted}",
        )
    finally:
        store.close()


@pytest.fixture
async def published(js: JetStreamContext) -> list[tuple[int, str]]:
    """300 events, mirrored into the 3-way partitioned stream."""
    events = await publish_wire(js, 300)
    await ensure_partitioned_stream(js, 3)
    await mirrored(js, 3, events[-1][0])
    return events


async def one_batch_of(nc: Client, db: Path, partition: Partition) -> int:
    """Run `partition`'s worker for one committed batch, then stop it: its committed position."""
    store = DATASET.open_store(db)
    runner: ProjectionRunner | None = None

    async def stop_after_first(*_: Any) -> None:
        assert runner is not None
        runner.stop()

    small = ConsumerSettings(batch_size=20, max_batch=20, fetch_timeout=0.2, retry_delay=0.2)
    runner = ProjectionRunner(nc, DATASET.name, store, small, partition=partition,
                              on_commit=stop_after_first)
    await asyncio.wait_for(runner.run(), 30)
    store.close()
    return runner.position


async def test_position_reports_each_partition_and_where_everything_is_applied_up_to(
    nc: Client, js: JetStreamContext, tmp_path: Path, published: list[tuple[int, str]]
) -> None:
    db = tmp_path / "dataset.sqlite"
    last = last_owned(published)
    owned = {p.name: [seq for seq, person in published if p.owns(person)] for p in PARTITIONS}
    # given the workers of partitions 0 and 2 have applied everything; partition 1's never ran
    async with workers(nc, db, [P0, P2]):
        await until_committed(db, {P0.name: last[P0.name], P2.name: last[P2.name]})
    shared = DATASET.open_store(db)

    async def stream_last() -> int:
        return int((await js.stream_info(EVENTS_STREAM)).state.last_seq)

    app = create_app(shared, stream_last_sequence=stream_last, live=LiveFeed(nc=nc))

    async def position() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return (await client.get("/api/position")).json()

    async def position_once(lag: int) -> dict[str, Any]:
        """The position once the consumers count `lag` (an ack reaches the server shortly)."""
        async def read() -> dict[str, Any] | None:
            body = await position()
            return body if body["lag"] == lag else None
        return await eventually(read, 10, what=f"/api/position with lag {lag}")

    # when the API is asked how far the dataset has got
    body = await position()
    # then each partition is listed; with no message of the mirror read, nothing is known of
    # partition 1 beyond what it committed (nothing), so nothing is claimed applied
    assert body["applied_sequence"] == 0
    assert body["stream_last_sequence"] == published[-1][0]
    assert body["partitions"] == [
        {"partition": "p0-of-3", "applied_sequence": last["p0-of-3"], "pending_from": None,
         "lag": 0},
        {"partition": "p1-of-3", "applied_sequence": 0, "pending_from": 1, "lag": None},
        {"partition": "p2-of-3", "applied_sequence": last["p2-of-3"], "pending_from": None,
         "lag": 0},
    ]
    assert body["lag"] is None  # partition 1's worker has never run: its lag is unknown
    # when partition 1's worker applies one batch and stops
    committed = await one_batch_of(nc, db, P1)
    waiting = [seq for seq in owned[P1.name] if seq > committed]
    # then it committed up to just before its next event, and so does the whole read model
    assert committed == waiting[0] - 1
    body = await position_once(len(waiting))
    assert body["applied_sequence"] == waiting[0] - 1
    assert body["partitions"][1] == {"partition": "p1-of-3", "applied_sequence": committed,
                                     "pending_from": waiting[0], "lag": len(waiting)}
    # when it has caught up, everything is applied and nothing is owed
    async with workers(nc, db, [P1]):
        await until_committed(db, {P1.name: last[P1.name]})
    body = await position_once(0)
    assert body["applied_sequence"] == published[-1][0]
    assert [p["lag"] for p in body["partitions"]] == [0, 0, 0]
    shared.close()


async def frames(stream: AsyncIterator[ServerSentEvent],
                 ) -> AsyncIterator[tuple[str, int | None, Any]]:
    """(event, id, data) of each Server-Sent Event as sent on the wire; heartbeats as
    ("heartbeat", None, None)."""
    async for sent in stream:
        frame = sent.encode().decode()
        if frame.startswith(":"):
            yield "heartbeat", None, None
            continue
        fields = dict(line.split(": ", 1) for line in frame.strip().splitlines())
        event_id = int(fields["id"]) if "id" in fields else None
        yield fields["event"], event_id, orjson.loads(fields["data"])


async def test_the_live_feed_never_announces_past_a_partition_still_behind_and_misses_none(
    nc: Client, js: JetStreamContext, tmp_path: Path, published: list[tuple[int, str]]
) -> None:
    db = tmp_path / "dataset.sqlite"
    shared = DATASET.open_store(db)
    last, waiting = last_owned(published), first_owned(published, P1)
    # given a dashboard's live feed over a store the partitioned workers share
    feed = LiveFeed(("dataset",), nc=nc, heartbeat=0.5, poll=5.0)
    feed.follow(DATASET.name, ReadModelProgress(shared, DATASET.name, feed.jetstream))

    async def positions() -> dict[str, int]:
        return {"dataset": shared.position()}

    async def snapshot() -> tuple[dict[str, int], dict[str, Any]]:
        return await positions(), {}

    stream = frames(change_stream(feed, snapshot, positions))
    event, _, opening = await anext(stream)
    assert (event, opening["position"]) == ("snapshot", 0)
    changes: list[tuple[int | None, Any]] = []

    async def collect_until(done: Any) -> None:
        async with asyncio.timeout(30):
            async for event, event_id, data in stream:
                if event == "change":
                    changes.append((event_id, data))
                if changes and done(changes[-1][1]):
                    return

    # when the workers of partitions 0 and 2 apply their people (partition 1's is down)
    async with workers(nc, db, [P0, P2]):
        await collect_until(lambda c: c["partitions"].get("p0-of-3") == last["p0-of-3"]
                            and c["partitions"].get("p2-of-3") == last["p2-of-3"])
    # then their progress is announced (woken by their announcements, long before a poll),
    # but never as a position at or past partition 1's first event, which is not applied
    assert changes and all(data["source"] == "partitions" for _, data in changes)
    assert all(data["position"] < waiting for _, data in changes)
    # when partition 1's worker comes back and catches up
    before = len(changes)
    async with workers(nc, db, [P1]):
        await collect_until(lambda c: c["position"] == published[-1][0])
    # then the feed moves on to the end of the stream, every partition at its last event
    assert changes[-1][1]["partitions"] == last
    ids = [event_id for event_id, _ in changes]
    assert ids == sorted(ids) and len(changes) > before
    assert all(data["previous_position"] <= data["position"] for _, data in changes)
    await feed.close()
    shared.close()
