"""Webhooks against a real local receiver that fails, stalls and recovers, across a restart of
the delivery and of nats-server: nothing lost, duplicates only with the same CloudEvent id."""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import nats
import orjson
import pytest
from nats.js import JetStreamContext

from projections.delivery.config import BadWebhookConfig, Endpoint, load_webhooks
from projections.delivery.dead_letters import UNDELIVERABLE, webhook_letters
from projections.delivery.deliverer import Delivery
from projections.delivery.replay import messages_after
from runtime.bus.outbound import ALERTS_STREAM, FEEDS_STREAM, alerts_stream, feeds_stream
from runtime.bus.streams import ensure_stream
from sendx.supervisor import sendx_command
from tests.projections.delivery.receiver import Receiver
from tests.waiting import eventually

SECRET = "a-partner-secret-of-some-length"
PERSON = "p_" + "ab" * 16


def endpoint(url: str, **overrides: object) -> Endpoint:
    settings = {"name": "qk1", "org": "QK1", "url": url, "secret": SECRET,
                "first_retry_seconds": 0.1, "max_retry_seconds": 0.5, "timeout_seconds": 1.0,
                "ack_wait_seconds": 2.0, "retry_for_seconds": 60.0, **overrides}
    return Endpoint.model_validate(settings)


def event_body(n: int) -> tuple[str, bytes]:
    event_id = str(uuid4())
    body = {"event_id": event_id, "type": "alert.raised", "schema_version": 1,
            "source_org": "SENDX", "person_key": PERSON, "n": n,
            "recorded_at": datetime.now(UTC).isoformat()}
    return event_id, orjson.dumps(body)


async def publish_alerts(js: JetStreamContext, org: str, count: int, start: int = 0) -> list[str]:
    ids = []
    for n in range(start, start + count):
        event_id, body = event_body(n)
        await js.publish(f"send.alert.{org}.milestone.{PERSON}", body,
                         headers={"Nats-Msg-Id": event_id})
        ids.append(event_id)
    return ids


@pytest.fixture
async def outbound(js: JetStreamContext) -> JetStreamContext:
    await ensure_stream(js, alerts_stream())
    await ensure_stream(js, feeds_stream())
    return js


async def start(nats_url: str, ep: Endpoint) -> tuple[Delivery, asyncio.Task, nats.NATS]:
    conn = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    delivery = Delivery(conn, ep)
    return delivery, asyncio.create_task(delivery.run()), conn


async def stop(delivery: Delivery, task: asyncio.Task, conn: nats.NATS) -> None:
    delivery.stop()
    await asyncio.wait_for(task, 15)
    await conn.close()


async def test_a_partner_that_fails_stalls_and_recovers_gets_everything_signed_in_order(
        nats_url, outbound) -> None:
    js = outbound
    with Receiver(SECRET.encode()) as receiver:
        receiver.mode = "fail"
        mine = await publish_alerts(js, "QK1", 3)
        others = await publish_alerts(js, "856", 2)  # another organisation's: never sent here
        delivery, task, conn = await start(nats_url, endpoint(receiver.url))
        try:
            await eventually(lambda: receiver.attempts >= 3, what="retries while it fails")
            receiver.mode = "stall"
            await eventually(lambda: receiver.attempts >= 5, what="attempts while it stalls")
            receiver.mode = "ok"
            await eventually(lambda: receiver.ids() == mine, timeout=20,
                             what="the three alerts once the receiver recovers")
        finally:
            await stop(delivery, task, conn)
    assert not set(receiver.ids()) & set(others)
    assert receiver.refused_signatures == []
    first = receiver.accepted[0]
    assert first["specversion"] == "1.0"
    assert first["type"] == "uk.send-exchange.alert.raised.v1"
    assert first["source"] == "urn:send-exchange:send_alerts"
    assert first["subject"] == f"send.alert.QK1.milestone.{PERSON}"
    assert first["data"]["event_id"] == mine[0]
    assert [e["sendxsequence"] for e in receiver.accepted] == sorted(
        e["sendxsequence"] for e in receiver.accepted)


async def test_nothing_is_lost_across_a_restart_of_the_delivery_and_of_nats_server(
        nats_server, nats_url, outbound) -> None:
    js = outbound
    with Receiver(SECRET.encode()) as receiver:
        sent = await publish_alerts(js, "QK1", 5)
        delivery, task, conn = await start(nats_url, endpoint(receiver.url))
        await eventually(lambda: len(receiver.ids()) == 5, what="the first five")
        # the delivery process stops (its durable consumer remembers where it was)
        await stop(delivery, task, conn)
        sent += await publish_alerts(js, "QK1", 5, start=5)
        # and nats-server restarts too, on the same port and data directory
        nats_server.stop()
        nats_server.start()
        delivery, task, conn = await start(nats_url, endpoint(receiver.url))
        try:
            js2 = conn.jetstream()
            sent += await eventually(lambda: publish_alerts(js2, "QK1", 5, start=10),
                                     ignore=(nats.errors.Error, TimeoutError),
                                     what="publishing after the restart")
            await eventually(lambda: set(receiver.ids()) == set(sent), timeout=30,
                             what="all fifteen after the restarts")
        finally:
            await stop(delivery, task, conn)
    ids = receiver.ids()
    assert sorted(set(ids)) == sorted(sent)  # nothing lost
    # at least once: a repeat, if any, carries the same id, so the receiver drops it by id
    assert len(ids) - len(set(ids)) <= 1


async def test_after_the_retry_period_a_message_is_dead_lettered_and_the_next_one_goes(
        nats_url, outbound) -> None:
    js = outbound
    with Receiver(SECRET.encode()) as receiver:
        receiver.mode = "fail"
        first = await publish_alerts(js, "QK1", 1)
        delivery, task, conn = await start(nats_url, endpoint(receiver.url,
                                                              retry_for_seconds=1.0))
        try:
            letters = await eventually(lambda: webhook_letters(js, "QK1"),
                                       what="the dead letter of the first alert")
            receiver.mode = "ok"
            second = await publish_alerts(js, "QK1", 1, start=1)
            await eventually(lambda: receiver.ids() == second, what="the next alert delivered")
        finally:
            await stop(delivery, task, conn)
    [letter] = letters
    assert (letter.endpoint, letter.org, letter.event_id) == ("qk1", "QK1", first[0])
    assert letter.error.startswith("HTTP 503") and letter.attempts >= 2
    assert letter.original_stream == ALERTS_STREAM
    stored = await messages_after(js, "SEND_DEADLETTER", "send.dlq.webhook.QK1", 0, 10)
    assert stored[0].headers["Sendx-Reason"] == UNDELIVERABLE
    assert await webhook_letters(js, "856") == []  # another partner sees none of them


async def test_a_feed_endpoint_receives_its_feed_with_the_agreement_named(
        nats_url, outbound) -> None:
    js = outbound
    with Receiver(SECRET.encode()) as receiver:
        event_id, body = event_body(0)
        await js.publish(f"send.feed.QK1.856.ehc.plan_issued.{PERSON}", body, headers={
            "Nats-Msg-Id": f"QK1.{event_id}", "Sendx-Agreement": "llr-2026",
            "Sendx-Clause": "icb-plans", "Sendx-Source-Seq": "7"})
        await js.publish(f"send.feed.856.QK1.health.diagnosis_recorded.{PERSON}", body)
        delivery, task, conn = await start(nats_url, endpoint(receiver.url, sources=["feed"]))
        try:
            await eventually(lambda: receiver.ids() == [f"QK1.{event_id}"], what="the feed")
        finally:
            await stop(delivery, task, conn)
    [delivered] = receiver.accepted
    assert (delivered["sendxagreement"], delivered["sendxclause"]) == ("llr-2026", "icb-plans")
    assert delivered["sendxstream"] == FEEDS_STREAM


async def test_the_delivery_process_killed_mid_delivery_loses_nothing(
        nats_url, outbound, tmp_path) -> None:
    js = outbound
    (tmp_path / "webhooks.toml").write_text("\n".join([
        "[[endpoint]]", 'name = "qk1"', 'org = "QK1"', 'url = "{url}"',
        'secret_env = "TEST_WEBHOOK_SECRET"', 'sources = ["alerts"]', "first_retry_seconds = 0.1",
        "max_retry_seconds = 0.5", "timeout_seconds = 1", "ack_wait_seconds = 2", ""]))
    with Receiver(SECRET.encode()) as receiver:
        config = tmp_path / "webhooks.toml"
        config.write_text(config.read_text().replace("{url}", receiver.url))
        env = {**os.environ, "NATS_URL": nats_url, "SENDX_DATA_DIR": str(tmp_path),
               "TEST_WEBHOOK_SECRET": SECRET}

        def delivery_process() -> subprocess.Popen:
            return subprocess.Popen(sendx_command("webhooks", "run", "--endpoint", "qk1"),
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=open(tmp_path / "delivery.log", "ab"))  # noqa: SIM115

        sent = await publish_alerts(js, "QK1", 3)
        process = delivery_process()
        try:
            await eventually(lambda: len(receiver.ids()) == 3, timeout=30, what="the first three")
            receiver.mode = "stall"  # the next one is in flight, unacknowledged, when it dies
            sent += await publish_alerts(js, "QK1", 3, start=3)
            await eventually(lambda: receiver.attempts >= 4, what="an attempt in flight")
            process.kill()
            process.wait(10)
            receiver.mode = "ok"
            process = delivery_process()
            await eventually(lambda: set(receiver.ids()) == set(sent), timeout=30,
                             what="every alert after the kill")
        finally:
            process.kill()
            process.wait(10)
    assert sorted(set(receiver.ids())) == sorted(sent)


def test_the_shipped_example_configuration_is_valid_and_points_only_at_this_machine() -> None:
    config = load_webhooks(Path(__file__).resolve().parents[3] / "deploy" / "sharing"
                           / "webhooks.example.toml")
    [example] = config.endpoint
    assert example.url.host == "127.0.0.1"
    with pytest.raises(BadWebhookConfig, match="SENDX_WEBHOOK_SECRET_QK1"):
        example.key({})
    assert example.key({"SENDX_WEBHOOK_SECRET_QK1": SECRET}) == SECRET.encode()


def test_a_bad_webhook_file_is_refused_naming_the_file_and_the_field(tmp_path) -> None:
    path = tmp_path / "webhooks.toml"
    path.write_text('[[endpoint]]\nname = "x"\norg = "QK1"\nurl = "not a url"\nsecret = "s"\n')
    with pytest.raises(BadWebhookConfig) as refused:
        load_webhooks(path)
    message = str(refused.value)
    assert str(path) in message and "endpoint.0.url" in message and "endpoint.0.secret" in message


async def test_a_message_that_is_not_a_json_event_is_dead_lettered_at_once_saying_why(
        nats_url, outbound) -> None:
    js = outbound
    with Receiver(SECRET.encode()) as receiver:
        await js.publish(f"send.alert.QK1.milestone.{PERSON}", b"[1, 2]")
        after = await publish_alerts(js, "QK1", 1)
        delivery, task, conn = await start(nats_url, endpoint(receiver.url))
        try:
            await eventually(lambda: receiver.ids() == after, what="the event after it")
        finally:
            await stop(delivery, task, conn)
    [letter] = await webhook_letters(js, "QK1")
    assert letter.attempts == 0 and letter.error.startswith("not a JSON event")
