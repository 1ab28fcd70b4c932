"""On the embedded secured server, each process logs in as itself: the alert process as
`alerter`, the webhook delivery as `deliverer`, the operator's `sendx webhooks deadletters` as
`retrier`; each can do its job and nothing of another's."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime

import nats.errors
import orjson
import pytest

from contracts import Envelope, encode
from contracts.health import DiagnosisRecorded
from contracts.sealing import reseal_for_feed, seal
from projections.alerts.runner import AlertRunner
from projections.alerts.sent import SentAlerts
from projections.delivery.config import Endpoint
from projections.delivery.deliverer import Delivery
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import ensure_streams
from runtime.feedkeys import FeedKeyStore
from sendx.commands.webhooks import run_deadletters
from tests.projections.delivery.receiver import Receiver
from tests.waiting import eventually

SECRET = "a-partner-secret-of-some-length"


@pytest.fixture
def secured_server(tmp_path) -> Iterator[NatsServer]:  # noqa: ANN001
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    try:
        yield server
    finally:
        server.stop()


async def test_alerts_reach_a_webhook_and_an_operator_sees_what_was_not_delivered(
        secured_server, tmp_path, record, events, tracker_store, store, monkeypatch, capsys,
) -> None:
    url, data_dir = secured_server.url, tmp_path / "data"
    admin, alerter, deliverer = [
        await connect_bus(url, name=f"test-{who}", **credentials_for(who, data_dir))
        for who in ("admin", "alerter", "deliverer")]
    await ensure_streams(admin.jetstream())
    # given LA 856's plan for amira, whose named worker is overdue on 1 June 2025
    record(events.registered("amira", "2011-04"), events.plan_issued("amira", date(2020, 3, 2)))
    runner = AlertRunner(alerter, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=lambda: date(2025, 6, 1))
    await runner._ensure_stream()
    assert await runner.evaluate_once() > 0
    with Receiver(SECRET.encode()) as up, Receiver(SECRET.encode()) as down:
        down.mode = "fail"
        la = Endpoint(name="la856", org="856", url=up.url, secret=SECRET, sources=("alerts",))
        icb = Endpoint(name="icb", org="QK1", url=down.url, secret=SECRET, sources=("alerts",),
                       retry_for_seconds=0.5, first_retry_seconds=0.1, ack_wait_seconds=2)
        deliveries = [Delivery(deliverer, la), Delivery(deliverer, icb)]
        tasks = [asyncio.create_task(d.run()) for d in deliveries]
        try:
            # then LA 856's endpoint receives 856's alerts, the ICB's endpoint fails and its
            # alerts are dead-lettered
            await eventually(lambda: any(e["data"]["payload"]["about"] == "named_worker"
                                         for e in up.accepted), what="856's named-worker alert")
            await eventually(lambda: deliveries[1].dead_lettered >= 1, what="the ICB's letter")
        finally:
            for d in deliveries:
                d.stop()
            await asyncio.gather(*tasks)
    assert {e["data"]["payload"]["owner_org"] for e in up.accepted} == {"856"}
    # and the deliverer may not publish as an organisation
    with pytest.raises(nats.errors.Error):
        await deliverer.jetstream().publish("send.evt.v1.856.ehc.plan_issued.p_" + "0" * 32,
                                            b"{}", timeout=2)
    # and the operator, logged in as the embedded server's retrier, lists the ICB's letters
    monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    options = argparse.Namespace(nats=url, org="QK1", after=0, limit=100)
    assert await asyncio.to_thread(run_deadletters, options) == 0
    listed = capsys.readouterr().out
    assert "\tQK1\ticb\tSEND_ALERTS:" in listed and "HTTP 503" in listed
    for nc in (admin, alerter, deliverer):
        await nc.close()


async def test_a_webhook_partner_gets_the_fields_its_clause_opens_in_clear(
        secured_server, tmp_path) -> None:  # noqa: ANN001
    url, data_dir = secured_server.url, tmp_path / "data"
    admin, feeder, deliverer = [
        await connect_bus(url, name=f"test-{who}", **credentials_for(who, data_dir))
        for who in ("admin", "feeder", "deliverer")]
    await ensure_streams(admin.jetstream())
    # given the ICB's sealed diagnosis, delivered to LA 856 with its condition opened for 856
    person, source_key = "p_" + "c" * 32, os.urandom(32)
    diagnosis = Envelope.wrap(
        DiagnosisRecorded(diagnosis_id="QK1-D-9", diagnosed_on=date(2026, 3, 2),
                          condition="adhd", no_referral_reason="historic_record"),
        source_org="QK1", person_key=person, occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
        source_position=1)
    body = encode(seal(diagnosis, source_key))
    feed_key = await FeedKeyStore(feeder.jetstream()).key_for("856", "QK1", person)
    assert feed_key is not None
    tokens = reseal_for_feed(orjson.loads(body), ("condition",), source_key, feed_key, "856")
    event_id = str(diagnosis.event_id)
    await feeder.jetstream().publish(
        f"send.feed.856.QK1.health.diagnosis_recorded.{person}", body,
        headers={"Nats-Msg-Id": f"856.{event_id}", "Sendx-Clause": "la-856-diagnoses",
                 "Sendx-Opened": orjson.dumps(tokens).decode()})
    with Receiver(SECRET.encode()) as receiver:
        la = Endpoint(name="la856", org="856", url=receiver.url, secret=SECRET,
                      sources=("feed",))
        delivery = Delivery(deliverer, la)
        task = asyncio.create_task(delivery.run())
        try:
            await eventually(lambda: receiver.ids() == [f"856.{event_id}"], what="the diagnosis")
        finally:
            delivery.stop()
            await task
    # then the CloudEvent the deliverer posts has the condition in clear, sealed no more
    [posted] = receiver.accepted
    assert posted["data"]["payload"]["condition"] == "adhd"
    assert posted["data"]["sealed"] is None and posted["sendxopened"] == "condition"
    for nc in (admin, feeder, deliverer):
        await nc.close()
