"""Each organisation publishes only its own events; roles get only what their process needs."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.subjects import ALL_EVENTS, command_subject, event_subject, projection_changes
from projections.partitions import Partition
from services.bus.streams import EVENTS_STREAM, ensure_partitioned_stream
from tests.bus.conftest import Connect, Principal

pytestmark = pytest.mark.integration

PERSON = "p_" + "a" * 32


def plan_issued_by(org: str) -> str:
    return event_subject(org, "ehc.plan_issued", PERSON)


async def events_in_stream(admin: Principal) -> int:
    return (await admin.nc.jetstream().stream_info(EVENTS_STREAM)).state.messages


async def until(condition, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


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
    await until(la_856.violations)
    assert la_856.violations() == [
        f'nats: permissions violation for publish to "{plan_issued_by("855")}"'
    ]
    assert await events_in_stream(admin) == 0


async def test_the_dashboard_reads_but_cannot_publish_events(connect_as: Connect) -> None:
    dashboard, la_856 = await connect_as("dashboard"), await connect_as("856")
    await la_856.nc.jetstream().publish(plan_issued_by("856"), b"{}")
    # reading the stream is allowed
    info = await dashboard.nc.jetstream().stream_info(EVENTS_STREAM)
    assert info.state.last_seq == 1
    assert (await dashboard.nc.jetstream().get_msg(EVENTS_STREAM, 1)).subject == plan_issued_by(
        "856"
    )
    # publishing an event is not
    with pytest.raises(nats.errors.TimeoutError):
        await dashboard.nc.jetstream().publish(plan_issued_by("856"), b"{}", timeout=1)
    await until(dashboard.violations)
    assert "permissions violation for publish" in dashboard.violations()[0]
    assert (await dashboard.nc.jetstream().stream_info(EVENTS_STREAM)).state.messages == 1


async def test_the_dashboard_sees_projection_changes(connect_as: Connect) -> None:
    dashboard, projector = await connect_as("dashboard"), await connect_as("projector")
    changes = await dashboard.nc.subscribe("projections.>")
    await dashboard.nc.flush()
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
    reply = await client.nc.request(command_subject("856", "ehc.issue_plan"), b"{}", timeout=2)
    assert reply.data == b'{"ok": true}'
    # but the partner system of one LA cannot command another's service
    with pytest.raises(nats.errors.TimeoutError):
        await client.nc.request(command_subject("855", "ehc.issue_plan"), b"{}", timeout=0.5)


async def test_no_user_can_read_other_users_inboxes(connect_as: Connect) -> None:
    la_855 = await connect_as("855")
    await la_855.nc.subscribe("_INBOX.>")
    await la_855.nc.flush()
    await until(la_855.violations)
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
