"""The live feed (`/api/live`) gains the alerts per organisation: in its snapshot with
`figures=alert-counts`, and as a change each time the alert process sends alerts."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn

from contracts.subjects import projection_changes
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.alerts.runner import AlertRunner
from projections.alerts.sent import SentAlerts
from projections.serving.api import create_app
from projections.serving.live import LiveFeed
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import free_port
from tests.projections.web.test_live_feed import sse_events

pytestmark = pytest.mark.integration

ICB = {"Authorization": "Bearer icb-token"}


async def test_a_dashboard_sees_the_alert_counts_change_as_alerts_are_sent(
        nats_url: str, js, tmp_path: Path, store, tracker_store, record, events) -> None:
    nc = await connect_bus(nats_url, name="test-live-alerts")
    tokens = TokenRegistry([TokenEntry(name="icb", sha256=hash_token("icb-token"),
                                       role="partner", org="QK1")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    app = create_app(store, tracker=tracker_store, access=AccessControl(tokens, log, store),
                     live=LiveFeed(("dataset", "tracker", "alerts"), nc=nc))
    runner = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=lambda: date(2025, 6, 1), settle=0.05)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    tasks = [asyncio.create_task(server.serve()), asyncio.create_task(runner.run())]
    try:
        async with asyncio.timeout(10):
            while not (server.started and runner.rounds):
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(timeout=10) as client, client.stream(
                "GET", f"http://127.0.0.1:{port}/api/live?figures=alert-counts",
                headers=ICB) as response:
            stream = sse_events(response)
            event, snapshot = await anext(stream)
            # given nothing alerted yet
            assert event == "snapshot"
            assert snapshot["figures"]["alert-counts"]["counts"] == {}
            # when LA 856's plan for amira is committed (her named worker overdue)
            record(events.registered("amira", "2011-04"),
                   events.plan_issued("amira", date(2020, 3, 2)))
            await nc.publish(projection_changes("tracker"), b"{}")
            async with asyncio.timeout(15):
                event, change = await anext(stream)
                while change.get("projection") != "alerts":
                    event, change = await anext(stream)
        # then the feed says so, with the counts per organisation
        assert event == "change"
        assert set(change["alert_counts"]) == {"856", "QK1"}
        assert change["source_orgs"] == ["856", "QK1"]
    finally:
        runner.stop()
        server.should_exit = True
        await asyncio.gather(*tasks)
        log.close()
        await nc.close()
