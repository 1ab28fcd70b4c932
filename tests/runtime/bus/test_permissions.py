"""Each organisation publishes only its own events; roles get only what their process needs."""

from __future__ import annotations

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.alerts import alert_subject
from contracts.feeds import org_alerts
from contracts.subjects import ALL_EVENTS, command_subject, event_subject, projection_changes
from projections.delivery.replay import messages_after
from projections.reading.partitions import Partition
from projections.reading.rebuild import rebuild
from runtime.bus.outbound import ALERTS_STREAM, FEEDS_STREAM, alerts_stream
from runtime.bus.streams import (
    DEADLETTER_STREAM,
    EVENTS_STREAM,
    ensure_partitioned_stream,
    ensure_stream,
)
from runtime.stopping import registered
from services.endpoint.client import ServiceClient
from tests.runtime.bus.conftest import Connect, Principal
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PERSON = "p_" + "a" * 32


def plan_issued_by(org: str) -> str:
    return event_subject(org, "ehc.plan_issued", PERSON)


async def events_in_stream(admin: Principal) -> int:
    return (await admin.nc.jetstream().stream_info(EVENTS_STREAM)).state.messages


async def test_an_la_publishes_its_own_events(connect_as: Connect) -> None:
    la_856 = await connect_as("856")
    ack = await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    assert ack.stream == EVENTS_STREAM and ack.seq == 1
    assert la_856.violations() == []


async def test_the_server_refuses_an_la_publishing_as_another_la(connect_as: Connect) -> None:
    # given LA 856's service
    la_856, admin = await connect_as("856"), await connect_as("admin")
    # when it tries to publish an event under LA 855's prefix
    with pytest.raises(nats.errors.TimeoutError):
        await la_856.nc.jetstream().publish(plan_issued_by("855"), b"{}", timeout=1)
    # then the server says why, and nothing reached the shared history
    await eventually(la_856.violations, timeout=3.0)
    assert la_856.violations() == [
        f'nats: permissions violation for publish to "{plan_issued_by("855")}"'
    ]
    assert await events_in_stream(admin) == 0


async def test_the_dashboard_reads_the_streams_extent_but_no_event_and_publishes_none(
    connect_as: Connect,
) -> None:
    dashboard, la_856 = await connect_as("dashboard"), await connect_as("856")
    await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    # how far the history goes (for lag) is allowed
    info = await dashboard.nc.jetstream().stream_info(EVENTS_STREAM)
    assert info.state.last_seq == 1
    # reading an event, by sequence or by direct get, is not
    for subject in (f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}",
                    f"$JS.API.DIRECT.GET.{EVENTS_STREAM}"):
        with pytest.raises(nats.errors.TimeoutError):
            await dashboard.nc.request(subject, b'{"seq": 1}', timeout=0.5)
    # nor is publishing an event
    with pytest.raises(nats.errors.TimeoutError):
        await dashboard.nc.jetstream().publish(plan_issued_by("856"), b"{}", timeout=1)
    await eventually(lambda: len(dashboard.violations()) == 3, timeout=3.0)
    assert all("permissions violation for publish" in v for v in dashboard.violations())
    assert (await dashboard.nc.jetstream().stream_info(EVENTS_STREAM)).state.messages == 1


async def test_the_dashboard_sees_projection_changes(connect_as: Connect) -> None:
    dashboard, projector = await connect_as("dashboard"), await connect_as("projector")
    changes = await dashboard.nc.subscribe("projections.>")
    await registered(dashboard.nc)  # the server has the subscription before anyone publishes
    await projector.nc.publish(projection_changes("dataset"), b'{"position": 1}')
    msg = await changes.next_msg(timeout=2)
    assert msg.subject == "projections.dataset.changed"


async def test_the_projector_consumes_through_a_durable_pull_consumer(connect_as: Connect) -> None:
    # given three events from LA 856
    la_856, projector = await connect_as("856"), await connect_as("projector")
    for _ in range(3):
        await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    # when the projector creates its durable consumer, fetches and acks
    js = projector.nc.jetstream()
    await js.add_consumer(
        EVENTS_STREAM,
        ConsumerConfig(
            name="projection-dataset",
            durable_name="projection-dataset",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=ALL_EVENTS,
        ),
    )
    sub = await js.pull_subscribe_bind(durable="projection-dataset", stream=EVENTS_STREAM)
    msgs = await sub.fetch(3, timeout=2)
    for msg in msgs:
        await msg.ack_sync()
    # then it got them all, and the server recorded the acks
    assert [m.metadata.sequence.stream for m in msgs] == [1, 2, 3]
    info = await js.consumer_info(EVENTS_STREAM, "projection-dataset")
    assert info.ack_floor.stream_seq == 3
    assert projector.violations() == []


async def test_the_projector_dead_letters_but_cannot_publish_events(connect_as: Connect) -> None:
    projector = await connect_as("projector")
    js = projector.nc.jetstream()
    ack = await js.publish("send.dlq.decode.856", b"not json")
    assert ack.stream == "SEND_DEADLETTER"
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(plan_issued_by("856"), b"{}", timeout=1)


async def test_an_org_cannot_listen_to_another_orgs_commands(connect_as: Connect) -> None:
    # given LA 855's service listening to its commands, and LA 856 trying to
    la_855, la_856 = await connect_as("855"), await connect_as("856")
    own = await la_855.nc.subscribe("send.cmd.855.>")
    eavesdrop = await la_856.nc.subscribe("send.cmd.855.>")
    await la_855.nc.flush()
    await la_856.nc.flush()
    # when LA 855's partner system sends it a command
    client_855 = await connect_as("la-855-client")
    await client_855.nc.publish(command_subject("855", "ehc.issue_plan"), b"{}")
    # then only LA 855 receives it, and LA 856 was told its subscription is refused
    assert (await own.next_msg(timeout=2)).subject == "send.cmd.855.ehc.issue_plan"
    with pytest.raises(nats.errors.TimeoutError):
        await eavesdrop.next_msg(timeout=0.5)
    assert la_856.violations() == [
        'nats: permissions violation for subscription to "send.cmd.855.>"'
    ]


async def test_a_service_answers_its_own_partner_system(connect_as: Connect) -> None:
    la_856, client = await connect_as("856"), await connect_as("la-856-client")

    async def answer(msg) -> None:  # type: ignore[no-untyped-def]
        await msg.respond(b'{"ok": true}')

    await la_856.nc.subscribe("send.cmd.856.>", cb=answer)
    await la_856.nc.flush()
    # (as `services.endpoint.client` does: "no responders" is retried briefly; one run in a few here
    # saw the server answer it just after the subscriber's flush returned)
    reply = await ServiceClient(client.nc, "856", timeout=2).request("ehc.issue_plan", {})
    assert reply == {"ok": True}
    # but the partner system of one LA cannot command another's service
    with pytest.raises(nats.errors.TimeoutError):
        await client.nc.request(command_subject("855", "ehc.issue_plan"), b"{}", timeout=0.5)


async def test_no_user_can_read_other_users_inboxes(connect_as: Connect) -> None:
    la_855 = await connect_as("855")
    await la_855.nc.subscribe("_INBOX.>")
    await la_855.nc.flush()
    await eventually(la_855.violations, timeout=3.0)
    assert la_855.violations() == ['nats: permissions violation for subscription to "_inbox.>"']


async def test_the_auditor_replays_history_without_durable_consumers(connect_as: Connect) -> None:
    la_856, auditor = await connect_as("856"), await connect_as("auditor")
    for _ in range(2):
        await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    js = auditor.nc.jetstream()
    # an ordered consumer replays the history
    replay = await js.subscribe(ALL_EVENTS, stream=EVENTS_STREAM, ordered_consumer=True)
    seen = [(await replay.next_msg(timeout=2)).metadata.sequence.stream for _ in range(2)]
    assert seen == [1, 2]
    await replay.unsubscribe()
    # a durable consumer (or pulling from the projector's) is refused
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(
            EVENTS_STREAM, ConsumerConfig(name="mine", durable_name="mine"), timeout=1
        )
    with pytest.raises(nats.errors.TimeoutError):
        await auditor.nc.request(
            f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.projection-dataset", b"1", timeout=1
        )
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(plan_issued_by("856"), b"{}", timeout=1)


async def test_a_partition_worker_creates_its_mirror_and_pulls_its_partition(
    connect_as: Connect,
) -> None:
    # given events from LA 856 about one person
    la_856, projector = await connect_as("856"), await connect_as("projector")
    subject = plan_issued_by("856")
    for _ in range(2):
        await la_856.nc.jetstream().publish(subject, b"{}")
    # when a worker of 3 creates the partitioned mirror as the projector user
    js = projector.nc.jetstream()
    await ensure_partitioned_stream(js, 3)
    owner = next(p for p in (Partition(i, 3) for i in range(3)) if p.owns(subject.split(".")[-1]))
    # then it can pull its partition's copy of the history, under the projector's permissions
    sub = await js.pull_subscribe(
        owner.filter_subject, durable=owner.durable("dataset"), stream=owner.stream
    )
    msgs: list = []
    for _ in range(20):
        msgs += await sub.fetch(2 - len(msgs), timeout=1)
        if len(msgs) == 2:
            break
    assert [m.metadata.sequence.stream for m in msgs] == [1, 2]
    assert projector.violations() == []


async def test_the_retrier_republishes_events_and_records_retries_but_nothing_else(
    connect_as: Connect,
) -> None:
    # given the retrier's NATS user (`sendx deadletters`)
    retrier = await connect_as("retrier")
    js = retrier.nc.jetstream()
    # then it may put an event back on an organisation's subject and record the retry
    assert (await js.publish(plan_issued_by("855"), b"{}")).stream == EVENTS_STREAM
    assert (await js.publish("send.dlq.retried.855", b"")).stream == DEADLETTER_STREAM
    # but not send commands, consume the history, touch person keys or administer streams
    for subject in (
        command_subject("855", "ehc.issue_plan"),
        f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.mine",
        "$JS.API.STREAM.MSG.GET.KV_SEND_PERSON_KEYS",
        f"$JS.API.STREAM.DELETE.{DEADLETTER_STREAM}",
    ):
        with pytest.raises(nats.errors.TimeoutError):
            await retrier.nc.request(subject, b"{}", timeout=0.5)
    await eventually(lambda: len(retrier.violations()) == 4, timeout=3.0)
    assert all("permissions violation for publish" in v for v in retrier.violations())
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 1


async def test_the_dashboard_reads_how_far_each_partition_worker_has_got_but_no_mirror_message(
    connect_as: Connect,
) -> None:
    # given a partition worker's consumer on the mirror, and an event it has not applied
    la_856, projector = await connect_as("856"), await connect_as("projector")
    await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    await ensure_partitioned_stream(projector.nc.jetstream(), 3)
    owner = next(p for p in (Partition(i, 3) for i in range(3)) if p.owns(PERSON))
    await projector.nc.jetstream().add_consumer(owner.stream, ConsumerConfig(
        durable_name=owner.durable("dataset"), filter_subject=owner.filter_subject))
    # when the API (as the dashboard) asks the bus what /api/position needs
    dashboard = await connect_as("dashboard")
    js = dashboard.nc.jetstream()

    async def copied() -> bool:  # the mirror copies the event shortly after it is stored
        return (await js.stream_info(owner.stream)).state.last_seq == 1

    await eventually(copied, 20, what="the mirror holding the event")
    info = await js.consumer_info(owner.stream, owner.durable("dataset"))
    # then it reads the mirror's extent and its worker's consumer
    assert info.num_pending == 1
    assert dashboard.violations() == []
    # but not the mirror's event, by sequence or by direct get (the worker itself still may)
    for subject in (f"$JS.API.STREAM.MSG.GET.{owner.stream}",
                    f"$JS.API.DIRECT.GET.{owner.stream}"):
        with pytest.raises(nats.errors.TimeoutError):
            await dashboard.nc.request(subject, b'{"seq": 1}', timeout=0.5)
    await eventually(lambda: len(dashboard.violations()) == 2, timeout=3.0)
    assert all("permissions violation for publish" in v for v in dashboard.violations())
    assert await owner.next_seq(projector.nc.jetstream(), 0) == 1


async def an_alert_on_send_alerts(connect_as: Connect) -> str:
    """The alert process's stream, holding one alert to LA 856 about PERSON: its subject."""
    alerter = await connect_as("alerter")
    js = alerter.nc.jetstream()
    await ensure_stream(js, alerts_stream())
    subject = alert_subject("856", "milestone", PERSON)
    assert (await js.publish(subject, b'{"about": "named_worker"}')).stream == ALERTS_STREAM
    return subject


async def test_the_dashboard_reads_no_alert_feed_or_dead_letter(connect_as: Connect) -> None:
    # given an alert on SEND_ALERTS
    await an_alert_on_send_alerts(connect_as)
    dashboard = await connect_as("dashboard")
    # when the dashboard's login asks for a message of the partner-facing streams
    for stream in (ALERTS_STREAM, FEEDS_STREAM, DEADLETTER_STREAM):
        for api in ("STREAM.MSG.GET", "DIRECT.GET"):
            with pytest.raises(nats.errors.TimeoutError):
                await dashboard.nc.request(f"$JS.API.{api}.{stream}", b'{"seq": 1}',
                                           timeout=0.5)
    # then the server refuses every one
    await eventually(lambda: len(dashboard.violations()) == 6, timeout=3.0)
    assert all("permissions violation for publish" in v for v in dashboard.violations())


async def test_the_courier_reads_deliveries_but_not_the_history(connect_as: Connect) -> None:
    # given an alert on SEND_ALERTS and an event on SEND_EVENTS
    subject = await an_alert_on_send_alerts(connect_as)
    la_856 = await connect_as("856")
    await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    # when the API's delivery routes read as the courier
    courier = await connect_as("courier")
    js = courier.nc.jetstream()
    found = await messages_after(js, ALERTS_STREAM, org_alerts("856"), 0, 10)
    # then LA 856's alert is there, as are the feed's and the dead letters' extents
    assert [(m.subject, m.data) for m in found] == [(subject, b'{"about": "named_worker"}')]
    assert (await js.stream_info(FEEDS_STREAM)).state.messages == 0
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 0
    assert courier.violations() == []
    # but no event of the history, no consumer on anything, and it publishes nothing
    for subject, body in (
        (f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}", b'{"seq": 1}'),
        (f"$JS.API.DIRECT.GET.{EVENTS_STREAM}", b'{"seq": 1}'),
        (f"$JS.API.CONSUMER.CREATE.{ALERTS_STREAM}", b"{}"),
        (f"$JS.API.CONSUMER.DURABLE.CREATE.{FEEDS_STREAM}.mine", b"{}"),
        (plan_issued_by("856"), b"{}"),
        ("send.alert.856.milestone." + PERSON, b"{}"),
    ):
        with pytest.raises(nats.errors.TimeoutError):
            await courier.nc.request(subject, body, timeout=0.5)
    await eventually(lambda: len(courier.violations()) == 6, timeout=3.0)
    assert all("permissions violation for publish" in v for v in courier.violations())
    assert await events_in_stream(await connect_as("admin")) == 1


class _PositionOnly:
    """A store that keeps only its position: what the replay delivered, nothing else."""

    def __init__(self) -> None:
        self.seq = 0

    def position(self) -> int:
        return self.seq

    def apply_batch(self, events: object, position: int | None = None) -> int:
        self.seq = max(self.seq, position or 0)
        return self.seq

    def close(self) -> None:
        return None


async def test_the_projector_rebuilds_a_long_history_with_its_read_permission(
    connect_as: Connect,
) -> None:
    # given more events (of a real event's size) than a push consumer would send before it
    # waits for a flow-control reply (which the projector may not send)
    la_856, projector = await connect_as("856"), await connect_as("projector")
    js = la_856.nc.jetstream(publish_async_max_pending=1_000)
    body = b'{"padding": "' + b"x" * 600 + b'"}'
    for _ in range(6_000):
        await js.publish_async(plan_issued_by("856"), body)
    await js.publish_async_completed()
    # when the projector rebuilds a read model from the stream
    store = _PositionOnly()
    report = await rebuild(projector.nc, store, idle_timeout=5.0)
    # then the replay reaches the end (undecodable bodies are reported, not applied)
    assert report.position == store.seq == 6_000
    assert len(report.invalid) == 6_000
    assert projector.violations() == []
