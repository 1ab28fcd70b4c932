"""The live feed on a real nats-server with the real runner: change events on NATS, and over
Server-Sent Events a snapshot first, then every change after it, nothing missed in between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from nats.js import JetStreamContext

from contracts.subjects import projection_changes
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.dataset.store import SqliteDatasetStore
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.serving.api import create_app
from projections.serving.live import ChangeAnnouncer, LiveFeed, ProjectionChange
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.integration

FAST = ConsumerSettings(batch_size=3, fetch_timeout=0.2, retry_delay=0.2)
AUDITOR = {"Authorization": "Bearer auditor-token"}


@asynccontextmanager
async def stack(nats_url: str, tmp_path: Path, *, announce: bool = True,
                heartbeat: float = 15.0,
                ) -> AsyncIterator[tuple[ProjectionRunner, str, uvicorn.Server]]:
    """The runner (announcing its commits, or not) and the API with its live feed."""
    nc = await connect_bus(nats_url, name="test-live")
    store = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    runner = ProjectionRunner(nc, "dataset", store, FAST,
                              on_commit=ChangeAnnouncer(nc, "dataset") if announce else None)
    tokens = TokenRegistry([TokenEntry(name="auditor", sha256=hash_token("auditor-token"),
                                       role="auditor")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    app = create_app(store, access=AccessControl(tokens, log, store),
                     live=LiveFeed(("dataset",), nc=nc, heartbeat=heartbeat),
                     today=lambda: date(2025, 6, 30))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(server.serve())]
    try:
        await eventually(lambda: server.started, 20, what="server.started", interval=0.02)
        yield runner, f"http://127.0.0.1:{port}", server
    finally:
        runner.stop()
        server.should_exit = True
        await asyncio.gather(*tasks)
        store.close()
        log.close()
        await nc.close()


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of each Server-Sent Event; comments (heartbeats) are skipped."""
    event, data = None, None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = orjson.loads(line.removeprefix("data: "))
        elif line == "" and event is not None:
            yield event, data
            event, data = None, None


async def publish_plans(publish, events, names: list[str], pause: float = 0.0) -> None:
    for number, name in enumerate(names):
        await publish(events.plan_issued(name, date(2025, 5, 1) + timedelta(days=number)))
        await asyncio.sleep(pause)


async def test_each_commit_is_announced_on_nats_with_its_position_and_what_changed(
    nats_url: str, js: JetStreamContext, tmp_path: Path, publish, events, nc
) -> None:
    # given a subscriber to the dataset's change subject
    changes: list[ProjectionChange] = []

    async def collect(msg) -> None:
        changes.append(ProjectionChange.model_validate_json(msg.data))

    await nc.subscribe(projection_changes("dataset"), cb=collect)
    await nc.flush()
    async with stack(nats_url, tmp_path) as (runner, _, _):
        # when an LA publishes two plans and the runner applies them
        await publish_plans(publish, events, ["amira", "ben"])
        await eventually(lambda: changes and changes[-1].position >= 2, 20,
                         what="changes and changes[-1].position >= 2", interval=0.02)
    # then the changes carry the projection, the positions, and what the batch touched
    assert changes[-1].projection == "dataset" and changes[-1].position == 2
    assert sum(c.events for c in changes) == 2 and sum(c.people for c in changes) == 2
    assert {o for c in changes for o in c.source_orgs} == {"856"}
    assert {m for c in changes for m in c.months} == {"2025-05"}


async def test_a_subscriber_gets_the_snapshot_then_every_change_with_nothing_missed(
    nats_url: str, js: JetStreamContext, tmp_path: Path, publish, events
) -> None:
    async with stack(nats_url, tmp_path) as (runner, url, _):
        # given three plans already applied
        await publish_plans(publish, events, ["p0", "p1", "p2"])
        await eventually(lambda: runner.position >= 3, 20,
                         what="runner.position >= 3", interval=0.02)
        # and plans still arriving while a dashboard subscribes
        arriving = asyncio.create_task(
            publish_plans(publish, events, [f"q{n}" for n in range(12)], pause=0.03))
        received: list[tuple[str, Any]] = []
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", f"{url}/api/live?figures=active-plans&from=2025-05"
                                     "&to=2025-05", headers=AUDITOR) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async with asyncio.timeout(15):
                    async for event, data in sse_events(response):
                        received.append((event, data))
                        if event == "change" and data["position"] == 15:
                            break
        await arriving
    # then the first event is the snapshot: a position and the figures read at it
    (first, snapshot), changes = received[0], [data for _, data in received[1:]]
    assert first == "snapshot"
    figures = snapshot["figures"]["active-plans"]
    assert figures["as_at_stream_sequence"] == snapshot["position"] >= 3
    # and then only changes, each continuing exactly where the last left off: nothing missed
    assert all(event == "change" for event, _ in received[1:])
    assert changes[0]["previous_position"] <= snapshot["position"] < changes[0]["position"]
    for before, after in zip(changes, changes[1:], strict=False):
        assert after["previous_position"] == before["position"]
    assert changes[-1]["position"] == 15


async def test_a_lost_announcement_is_caught_by_the_heartbeat(
    nats_url: str, js: JetStreamContext, tmp_path: Path, publish, events
) -> None:
    # given a runner that announces nothing (as if every doorbell were lost)
    async with stack(nats_url, tmp_path, announce=False, heartbeat=0.3) as (runner, url, _):
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", f"{url}/api/live", headers=AUDITOR) as response:
                stream = sse_events(response)
                event, snapshot = await anext(stream)
                # when a plan is applied
                await publish_plans(publish, events, ["amira"])
                async with asyncio.timeout(10):
                    event, change = await anext(stream)
    # then the subscriber still learns of it within a heartbeat, from the position
    assert (event, snapshot["position"]) == ("change", 0)
    assert (change["position"], change["source"]) == (1, "position")


async def test_the_live_feed_needs_a_token(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    async with stack(nats_url, tmp_path) as (_, url, _):
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{url}/api/live")
            bad = await client.get(f"{url}/api/live?figures=../position", headers=AUDITOR)
    assert response.status_code == 401
    assert bad.status_code == 422 and "got '../position'" in bad.json()["detail"]


async def test_an_open_live_feed_ends_when_the_api_shuts_down(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    async with stack(nats_url, tmp_path) as (_, url, server):
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", f"{url}/api/live", headers=AUDITOR) as response:
                # given a dashboard listening to the live feed
                stream = sse_events(response)
                event, _ = await anext(stream)
                # when the API is asked to stop (as `sendx run` does on Ctrl-C)
                server.should_exit = True
                # then the stream ends cleanly, rather than holding the shutdown open
                async with asyncio.timeout(10):
                    after = [received async for received in stream]
    assert event == "snapshot" and after == []
