"""The API's deliveries, read with each role's own token: a partner replays its alerts from a
cursor and sees its webhook dead letters; nobody reads another's; counts for everyone."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from uuid import uuid4

import nats
import orjson
import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.delivery.dead_letters import dead_letter_delivery
from projections.delivery.replay import StoredMessage
from projections.serving.api import create_app
from projections.serving.live import LiveFeed
from runtime.bus.connection import connect_bus
from runtime.bus.outbound import ALERTS_STREAM, alerts_stream
from runtime.bus.streams import ensure_stream, ensure_streams

TOKENS = {"icb": ("partner", "QK1"), "leicester": ("partner", "856"),
          "auditor": ("auditor", None), "wallboard": ("dashboard", None)}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{name}"}


async def _publish(url: str, alerts: list[tuple[str, str]], letter_for: str) -> list[str]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    await ensure_stream(js, alerts_stream())
    ids = []
    for owner, person in alerts:
        event_id = str(uuid4())
        await js.publish(f"send.alert.{owner}.milestone.{person}", orjson.dumps(
            {"event_id": event_id, "type": "alert.raised", "schema_version": 1,
             "person_key": person}), headers={"Nats-Msg-Id": event_id})
        ids.append(event_id)
    body = orjson.dumps({"event_id": ids[0]})
    await dead_letter_delivery(js, "qk1", letter_for, StoredMessage(
        ALERTS_STREAM, 1, f"send.alert.{letter_for}.milestone.{alerts[0][1]}", body, {}),
        "HTTP 503: down", 7)
    await nc.close()
    return ids


@pytest.fixture
def api(nats_url: str, store, record, events, tmp_path: Path):  # noqa: ANN001, ANN201
    # QK1's own events mention amira (it flagged her plan); nobody's mention zed
    record(events.plan_issued("amira", date(2025, 3, 3)),
           events.health_flag_set("amira", date(2025, 3, 10)))
    registry = TokenRegistry([
        TokenEntry(name=name, sha256=hash_token(f"token-of-{name}"), role=role, org=org)
        for name, (role, org) in TOKENS.items()])
    log = AccessLog(tmp_path / "access-log.sqlite")
    live = LiveFeed(("dataset", "alerts"), nats_url=nats_url,
                    connect=lambda url: connect_bus(url, name="test-api"))
    app = create_app(store, access=AccessControl(registry, log, store), live=live)
    with TestClient(app) as client:
        yield client
    log.close()


def test_a_partner_replays_its_own_alerts_from_a_cursor(api, nats_url, events) -> None:
    amira, zed = events.person("amira"), events.person("zed")
    ids = asyncio.run(_publish(nats_url, [("QK1", amira), ("856", amira), ("QK1", amira),
                                          ("QK1", zed)], letter_for="QK1"))
    page = api.get("/api/deliveries/alerts?limit=1", headers=bearer("icb"))
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["event"]["id"] for e in body["events"]] == [ids[0]]
    assert body["events"][0]["event"]["subject"] == f"send.alert.QK1.milestone.{amira}"
    assert body["events"][0]["event"]["specversion"] == "1.0"
    rest = api.get(f"/api/deliveries/alerts?after={body['next_after']}", headers=bearer("icb"))
    # the next of QK1's own, not 856's; the one about zed, whom QK1's events never mention,
    # is withheld by the person-level rule (and counted)
    assert [e["event"]["id"] for e in rest.json()["events"]] == [ids[2]]
    assert rest.headers["X-Person-Rows-Withheld"] == "1"
    leicester = api.get("/api/deliveries/alerts", headers=bearer("leicester")).json()
    assert [e["event"]["id"] for e in leicester["events"]] == [ids[1]]


def test_nobody_reads_another_partners_deliveries(api, nats_url, events) -> None:
    asyncio.run(_publish(nats_url, [("QK1", events.person("amira"))], letter_for="QK1"))
    refused = api.get("/api/deliveries/alerts?org=856", headers=bearer("icb"))
    assert refused.status_code == 403
    assert "its own deliveries only" in refused.json()["detail"]
    assert api.get("/api/deliveries/alerts", headers=bearer("wallboard")).status_code == 403
    unnamed = api.get("/api/deliveries/alerts", headers=bearer("auditor"))
    assert unnamed.status_code == 400 and "org=" in unnamed.json()["detail"]
    audited = api.get("/api/deliveries/alerts?org=QK1", headers=bearer("auditor")).json()
    assert audited["count"] == 1


def test_a_partner_sees_its_webhook_dead_letters_and_operators_see_all(api, nats_url,
                                                                        events) -> None:
    ids = asyncio.run(_publish(nats_url, [("QK1", events.person("amira"))], letter_for="QK1"))
    mine = api.get("/api/deliveries/webhooks/deadletters", headers=bearer("icb")).json()
    assert [(x["endpoint"], x["event_id"], x["attempts"], x["error"]) for x in mine["letters"]] \
        == [("qk1", ids[0], 7, "HTTP 503: down")]
    theirs = api.get("/api/deliveries/webhooks/deadletters", headers=bearer("leicester"))
    assert theirs.json()["letters"] == []
    every = api.get("/api/deliveries/webhooks/deadletters", headers=bearer("auditor")).json()
    assert every["count"] == 1


def test_alert_counts_per_organisation_for_every_token(api, nats_url, events) -> None:
    amira = events.person("amira")
    asyncio.run(_publish(nats_url, [("QK1", amira), ("856", amira), ("QK1", amira)],
                         letter_for="QK1"))
    for reader in TOKENS:
        counts = api.get("/api/alerts/counts", headers=bearer(reader))
        assert counts.json()["counts"] == {"856": 1, "QK1": 2}, reader
