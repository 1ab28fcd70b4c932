"""Each recipient reads its own feed and alerts and nothing of another organisation's; the
feed process publishes deliveries and no event; the auditor reads who was sent what. The feed
permissions are the agreement's (the demo one here: QK1 and the three LAs receive feeds, RT5
none): a client the agreement names no feed for holds none, the feeder publishes no feed of
theirs, and permissions rendered again from a changed agreement apply on reload."""

from __future__ import annotations

import nats.errors
import orjson
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from contracts.feeds import (
    ALERTS_STREAM,
    ALL_ALERTS,
    FEED_KEYS_BUCKET,
    FEED_KEYS_STREAM,
    FEEDS_STREAM,
    feed_key_request,
    org_alerts,
    org_feed,
)
from contracts.subjects import event_subject
from runtime.bus.credentials import embedded_auth
from runtime.feedkeys import FeedKeyStore, read_feed_key
from tests.projections.feeds.feeds_harness import agreement_of
from tests.runtime.bus.conftest import Connect, Principal, SecuredBus
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PERSON = "p_" + "b" * 32
ICB_CLIENT = "icb-QK1-client"
LA_CLIENT = "la-856-client"


def durable(name: str, filter_subject: str) -> ConsumerConfig:
    return ConsumerConfig(name=name, durable_name=name, filter_subject=filter_subject,
                          ack_policy=AckPolicy.EXPLICIT)


async def a_delivery_to_the_icb(connect_as: Connect) -> Principal:
    """The feeder publishes one delivery to QK1 (as the feed process does)."""
    feeder = await connect_as("feeder")
    subject = f"send.feed.QK1.856.ehc.plan_issued.{PERSON}"
    await feeder.nc.jetstream().publish(subject, b"{}", headers={"Nats-Msg-Id": "QK1.e1"})
    return feeder


async def refused(principal: Principal, count: int) -> list[str]:
    await eventually(lambda: len(principal.violations()) >= count, timeout=3.0,
                     what=f"{count} permission violations")
    return principal.violations()


async def test_a_recipient_reads_its_own_feed_through_its_own_durable_consumer(
    connect_as: Connect,
) -> None:
    await a_delivery_to_the_icb(connect_as)
    icb = await connect_as(ICB_CLIENT)
    js = icb.nc.jetstream()
    await js.add_consumer(FEEDS_STREAM, durable("QK1-feed", org_feed("QK1")))
    sub = await js.pull_subscribe_bind("QK1-feed", FEEDS_STREAM)
    [msg] = await sub.fetch(1, timeout=5)
    await msg.ack()
    assert msg.subject == f"send.feed.QK1.856.ehc.plan_issued.{PERSON}"
    assert icb.violations() == []


async def test_the_server_refuses_a_recipient_anything_of_another_recipients_feed(
    connect_as: Connect,
) -> None:
    await a_delivery_to_the_icb(connect_as)
    icb = await connect_as(ICB_CLIENT)
    await icb.nc.jetstream().add_consumer(FEEDS_STREAM, durable("QK1-feed", org_feed("QK1")))
    la = await connect_as(LA_CLIENT)
    js = la.nc.jetstream()
    attempts = [
        # its own consumer name, filtered on the ICB's feed
        js.add_consumer(FEEDS_STREAM, durable("856-feed", org_feed("QK1")), timeout=0.5),
        # a consumer under the ICB's name, or unfiltered
        js.add_consumer(FEEDS_STREAM, durable("QK1-replay", org_feed("856")), timeout=0.5),
        js.add_consumer(FEEDS_STREAM, durable("856-feed", "send.feed.>"), timeout=0.5),
        # pulling from, inspecting or deleting the ICB's consumer
        la.nc.request(f"$JS.API.CONSUMER.MSG.NEXT.{FEEDS_STREAM}.QK1-feed", b'{"batch":1}',
                      timeout=0.5),
        js.consumer_info(FEEDS_STREAM, "QK1-feed", timeout=0.5),
        js.delete_consumer(FEEDS_STREAM, "QK1-feed"),
        # reading the stream's messages or its subjects
        la.nc.request(f"$JS.API.DIRECT.GET.{FEEDS_STREAM}", b'{"seq":1}', timeout=0.5),
        la.nc.request(f"$JS.API.STREAM.INFO.{FEEDS_STREAM}", b'{"subjects_filter":">"}',
                      timeout=0.5),
    ]
    for attempt in attempts:
        with pytest.raises(nats.errors.TimeoutError):
            await attempt
    # nor a plain subscription to the ICB's subjects
    await la.nc.subscribe(org_feed("QK1"))
    await eventually(lambda: any(f'subscription to "{org_feed("QK1").lower()}"' in v
                                 for v in la.violations()), timeout=3.0)
    violations = await refused(la, len(attempts) + 1)
    assert all("permissions violation" in v for v in violations)
    # and the ICB's consumer is untouched, its delivery still waiting for it
    info = await icb.nc.jetstream().consumer_info(FEEDS_STREAM, "QK1-feed")
    assert info.num_pending == 1


async def test_a_recipient_reads_its_own_alerts_and_no_one_elses(connect_as: Connect) -> None:
    admin = await connect_as("admin")
    await admin.nc.jetstream().add_stream(StreamConfig(  # (the alert evaluator declares it)
        name=ALERTS_STREAM, subjects=[ALL_ALERTS], max_bytes=64 * 1024 * 1024))
    la = await connect_as(LA_CLIENT)
    js = la.nc.jetstream()
    info = await js.add_consumer(ALERTS_STREAM, durable("856-alerts", org_alerts("856")))
    assert info.config.filter_subject == "send.alert.856.>"
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(ALERTS_STREAM, durable("856-alerts", org_alerts("QK1")),
                              timeout=0.5)
    await refused(la, 1)


async def test_the_feeder_publishes_deliveries_but_never_an_event(connect_as: Connect) -> None:
    feeder = await a_delivery_to_the_icb(connect_as)
    js = feeder.nc.jetstream()
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(event_subject("856", "ehc.plan_issued", PERSON), b"{}", timeout=0.5)
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(FEEDS_STREAM, durable("QK1-feed", org_feed("QK1")), timeout=0.5)
    violations = await refused(feeder, 2)
    assert all("permissions violation for publish" in v for v in violations)


async def test_the_auditor_reads_the_deliveries_and_cannot_add_one(connect_as: Connect) -> None:
    await a_delivery_to_the_icb(connect_as)
    auditor = await connect_as("auditor")
    js = auditor.nc.jetstream()
    stored = await js.get_msg(FEEDS_STREAM, 1, direct=True)
    assert stored.headers and stored.headers["Nats-Msg-Id"] == "QK1.e1"
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(f"send.feed.QK1.856.ehc.plan_issued.{PERSON}", b"{}", timeout=0.5)
    await refused(auditor, 1)


TRUST_CLIENT = "icb-RT5-client"
TRUST_FEED = f"send.feed.RT5.856.ehc.plan_issued.{PERSON}"


async def alerts_stream(connect_as: Connect) -> None:
    admin = await connect_as("admin")
    await admin.nc.jetstream().add_stream(StreamConfig(  # (the alert evaluator declares it)
        name=ALERTS_STREAM, subjects=[ALL_ALERTS], max_bytes=64 * 1024 * 1024))


async def test_a_client_the_agreement_gives_no_feed_cannot_hold_one_but_reads_its_alerts(
    connect_as: Connect,
) -> None:
    await alerts_stream(connect_as)
    trust = await connect_as(TRUST_CLIENT)
    js = trust.nc.jetstream()
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(FEEDS_STREAM, durable("RT5-feed", org_feed("RT5")), timeout=0.5)
    [violation] = await refused(trust, 1)
    assert "$js.api.consumer.create.send_feeds.rt5-feed" in violation
    # any organisation may own a milestone: its alerts are its own whatever the agreement says
    info = await js.add_consumer(ALERTS_STREAM, durable("RT5-alerts", org_alerts("RT5")))
    assert info.config.filter_subject == "send.alert.RT5.>"


async def test_the_feeder_cannot_publish_a_feed_the_agreement_does_not_name(
    connect_as: Connect,
) -> None:
    feeder = await a_delivery_to_the_icb(connect_as)
    with pytest.raises(nats.errors.TimeoutError):
        await feeder.nc.jetstream().publish(TRUST_FEED, b"{}", headers={"Nats-Msg-Id": "RT5.e1"},
                                            timeout=0.5)
    [violation] = await refused(feeder, 1)
    assert f'permissions violation for publish to "{TRUST_FEED.lower()}"' in violation


RT5_ONLY = agreement_of("""
id = "trust-plans"
recipient = "RT5"
sources = ["la"]
events = ["ehc.plan_issued"]
cohort = "mentioned"
""")


async def test_permissions_rendered_again_from_a_changed_agreement_apply_on_reload(
    connect_as: Connect, secured_bus: SecuredBus,
) -> None:
    # given connected clients under the demo agreement
    feeder = await a_delivery_to_the_icb(connect_as)
    trust, icb = await connect_as(TRUST_CLIENT), await connect_as(ICB_CLIENT)
    # when the agreement now gives RT5 a feed and QK1 none, rendered again and reloaded
    embedded_auth(secured_bus.data_dir, agreement=RT5_ONLY)
    secured_bus.server.reload()

    # then, on the same connections, the feeder publishes RT5's feed and RT5 reads it
    async def published() -> bool:
        try:
            await feeder.nc.jetstream().publish(TRUST_FEED, b"{}",
                                                headers={"Nats-Msg-Id": "RT5.e1"}, timeout=0.5)
        except nats.errors.TimeoutError:
            return False
        return True

    await eventually(published, what="the feeder to be allowed RT5's feed after the reload")
    js = trust.nc.jetstream()
    await js.add_consumer(FEEDS_STREAM, durable("RT5-feed", org_feed("RT5")))
    [msg] = await (await js.pull_subscribe_bind("RT5-feed", FEEDS_STREAM)).fetch(1, timeout=5)
    assert msg.subject == TRUST_FEED
    # and QK1, which the agreement no longer names, may no longer hold a feed consumer
    with pytest.raises(nats.errors.TimeoutError):
        await icb.nc.jetstream().add_consumer(
            FEEDS_STREAM, durable("QK1-feed", org_feed("QK1")), timeout=0.5)
    with pytest.raises(nats.errors.TimeoutError):
        await feeder.nc.jetstream().publish(f"send.feed.QK1.856.ehc.plan_issued.{PERSON}", b"{}",
                                            headers={"Nats-Msg-Id": "QK1.e2"}, timeout=0.5)


async def test_a_recipient_reads_its_own_feed_keys_and_is_refused_anyone_elses(
    connect_as: Connect,
) -> None:
    # given the feed process created a key for 856 and one for 855 about the same child
    feeder = await connect_as("feeder")
    keys = FeedKeyStore(feeder.nc.jetstream())
    mine = await keys.key_for("856", "QK1", PERSON)
    theirs = await keys.key_for("855", "QK1", PERSON)
    assert mine is not None and theirs is not None and mine != theirs
    # then 856's client reads its own, by direct get of the key's subject
    la = await connect_as(LA_CLIENT)
    js = la.nc.jetstream()
    assert await read_feed_key(js, "856", "QK1", PERSON) == mine
    assert await read_feed_key(js, "856", "RT5", PERSON) is None  # none made: nothing
    assert la.violations() == []
    # and is refused 855's, by subject, by sequence, by a body naming it, or by binding the bucket
    other = f"$KV.{FEED_KEYS_BUCKET}.855.QK1.{PERSON}"
    attempts = [
        read_feed_key(js, "855", "QK1", PERSON),
        la.nc.request(f"$JS.API.DIRECT.GET.{FEED_KEYS_STREAM}", b'{"seq":2}', timeout=0.5),
        la.nc.request(f"$JS.API.DIRECT.GET.{FEED_KEYS_STREAM}",
                      orjson.dumps({"last_by_subj": other}), timeout=0.5),
        la.nc.request(f"$JS.API.STREAM.MSG.GET.{FEED_KEYS_STREAM}", b'{"seq":2}', timeout=0.5),
        js.key_value(FEED_KEYS_BUCKET),
    ]
    for attempt in attempts:
        with pytest.raises(nats.errors.TimeoutError):
            await attempt
    # nor can it plant or purge a key, even its own
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(f"$KV.{FEED_KEYS_BUCKET}.856.QK1.{PERSON}", b"x" * 32, timeout=0.5)
    violations = await refused(la, len(attempts) + 1)
    assert all("permissions violation for publish" in v for v in violations)
    assert await read_feed_key(js, "856", "QK1", PERSON) == mine


async def test_a_body_on_a_recipients_own_key_subject_reaches_no_other_key(
    connect_as: Connect,
) -> None:
    """The subject form is the only one granted; the server refuses a body under it (by
    sequence, or last on another subject) as a bad request (nats-server 2.x)."""
    feeder = await connect_as("feeder")
    keys = FeedKeyStore(feeder.nc.jetstream())
    theirs = await keys.key_for("855", "QK1", PERSON)
    mine = await keys.key_for("856", "QK1", PERSON)
    la = await connect_as(LA_CLIENT)
    subject = feed_key_request("856", "QK1", PERSON)
    for body in (b'{"seq":1}', orjson.dumps({"last_by_subj": f"$KV.{FEED_KEYS_BUCKET}.855.>"})):
        reply = await la.nc.request(subject, body, timeout=2)
        assert (reply.data, (reply.headers or {}).get("Status")) == (b"", "408")  # Bad Request
    assert theirs is not None and await read_feed_key(la.nc.jetstream(), "856", "QK1",
                                                      PERSON) == mine
