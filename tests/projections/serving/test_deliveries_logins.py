"""On the embedded secured server the API logs in twice: as `dashboard` for its page, the live
feed and `/api/position`, and as `courier` for its delivery routes, so a partner still replays
its alerts while the dashboard's login reads no message of any stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.serving.api import create_app
from projections.serving.deliveries import CourierLogin
from projections.serving.live import LiveFeed
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.outbound import alerts_stream
from runtime.bus.streams import ensure_stream, ensure_streams
from runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    try:
        yield server, data_dir
    finally:
        server.stop()


async def _alert_for_qk1(url: str, data_dir: Path, person: str) -> None:
    admin = await connect_bus(url, name="test-admin", **credentials_for("admin", data_dir))
    await ensure_streams(admin.jetstream())
    await admin.close()
    alerter = await connect_bus(url, name="test-alerter", **credentials_for("alerter", data_dir))
    await ensure_stream(alerter.jetstream(), alerts_stream())
    await alerter.jetstream().publish(f"send.alert.QK1.milestone.{person}", orjson.dumps(
        {"event_id": "e-1", "type": "alert.raised", "schema_version": 1, "person_key": person}),
        headers={"Nats-Msg-Id": "e-1"})
    await alerter.close()


def test_a_partner_replays_its_alerts_through_the_courier_login(
    secured, store, record, events, tmp_path: Path,  # noqa: ANN001
) -> None:
    server, data_dir = secured
    amira = events.person("amira")
    record(events.plan_issued("amira", date(2025, 3, 3)),
           events.health_flag_set("amira", date(2025, 3, 10)))
    asyncio.run(_alert_for_qk1(server.url, data_dir, amira))
    # given the API as `sendx run` starts it: the dashboard's login, and the courier's
    dashboard = credentials_for("dashboard", data_dir)
    courier = credentials_for("courier", data_dir)
    live = LiveFeed(("dataset", "alerts"), nats_url=server.url,
                    connect=lambda url: connect_bus(url, name="test-api", **dashboard))
    login = CourierLogin.configured(Settings(
        nats_url=server.url, courier_nats_user=courier["user"],
        courier_nats_password=courier["password"]))
    registry = TokenRegistry([TokenEntry(name="icb", sha256=hash_token("token-of-icb"),
                                         role="partner", org="QK1")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    app = create_app(store, access=AccessControl(registry, log, store), live=live,
                     deliveries_bus=login)
    with TestClient(app) as api:
        # when QK1 asks for its alerts and the counts
        page = api.get("/api/deliveries/alerts", headers={"Authorization": "Bearer token-of-icb"})
        counts = api.get("/api/alerts/counts", headers={"Authorization": "Bearer token-of-icb"})
    log.close()
    # then it gets its alert, read as the courier
    assert page.status_code == 200, page.text
    assert [e["person_key"] for e in page.json()["events"]] == [amira]
    assert counts.json()["counts"] == {"QK1": 1}


def test_without_a_courier_user_the_routes_use_the_apis_own_login() -> None:
    assert CourierLogin.configured(Settings(courier_nats_user=None)) is None
    login = CourierLogin.configured(Settings(courier_nats_user="courier",
                                             courier_nats_password="pw"), "nats://elsewhere:4222")
    assert login is not None and login._url == "nats://elsewhere:4222"
