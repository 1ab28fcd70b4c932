"""Projection workers scaled out by person: which worker owns whom, what the server does with the
subjects, and three in-process workers ending where one from-scratch replay does."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.subjects import event_subject, event_subject_of, parse_event_subject
from projections.dataset.projection import DATASET
from projections.reading.dead_lettering import ORIGINAL_SEQUENCE, ORIGINAL_STREAM, ORIGINAL_SUBJECT
from projections.reading.partitions import (
    Partition,
    PartitionProgress,
    Progress,
    complete_up_to,
    partition_of,
    partition_positions,
)
from projections.reading.rebuild import rebuild
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.serving.api import position_of
from runtime.bus.streams import (
    DEADLETTER_STREAM,
    EVENTS_STREAM,
    ensure_partitioned_stream,
    partitioned_stream_name,
)
from sendx.demo.population import generate_wire
from tests.waiting import eventually

FAST = ConsumerSettings(batch_size=20, fetch_timeout=0.2, retry_delay=0.2)


def test_a_partitioned_subject_gives_back_the_event_subject_it_was_made_from() -> None:
    # given an event subject and its partitioned form
    original = event_subject("856", "ehc.plan_issued", "p_0a1b")
    partitioned = "send.part.3.2.856.ehc.plan_issued.p_0a1b"
    # when the original is restored
    restored = event_subject_of(partitioned)
    # then it is the subject the publisher used, readable as before
    assert restored == original
    assert parse_event_subject(restored).person_key == "p_0a1b"


def test_a_subject_that_is_not_partitioned_is_refused_with_the_expected_shape() -> None:
    with pytest.raises(ValueError, match=r"send\.part\.<n>\.<i>\.<org>"):
        event_subject_of("send.evt.v1.856.ehc.plan_issued.p_0a1b")


def test_each_person_always_belongs_to_the_same_single_partition() -> None:
    # given many people
    people = [f"p_{n:032x}" for n in range(3000)]
    # when they are assigned to 3 partitions twice over
    first = [partition_of(person, 3) for person in people]
    again = [partition_of(person, 3) for person in people]
    # then each person's partition never changes, and every worker gets a fair share
    assert first == again
    shares = Counter(first)
    assert set(shares) == {0, 1, 2}
    assert min(shares.values()) > 800
    # and exactly one of the 3 workers owns each person
    for person in people[:100]:
        assert sum(Partition(i, 3).owns(person) for i in range(3)) == 1


def test_a_partition_outside_the_count_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="--partition must be between 0 and 2 for 3 partitions"):
        Partition(3, 3)
    with pytest.raises(ValueError, match="--partitions must be at least 1"):
        Partition(0, 0)


def test_each_partition_has_its_own_durable_consumer_and_position_key() -> None:
    partition = Partition(1, 3)
    assert partition.durable("dataset") == "projection-dataset-p1-of-3"
    assert partition.name == "p1-of-3"
    assert partition.filter_subject == "send.part.3.1.>"


async def publish_wire(js: JetStreamContext, count: int, seed: int = 5) -> list[tuple[int, str]]:
    """Publish the first `count` events of the tiny population; (sequence, person key) each."""
    published = []
    for wire in islice(generate_wire("tiny", seed), count):
        ack = await js.publish(wire.subject, wire.data, headers={"Nats-Msg-Id": wire.msg_id})
        published.append((ack.seq, parse_event_subject(wire.subject).person_key))
    return published


async def mirrored(js: JetStreamContext, count: int, last: int) -> None:
    async def copied() -> bool:
        return (await js.stream_info(partitioned_stream_name(count))).state.last_seq >= last

    await eventually(copied, 20, what=f"the mirror at sequence {last}")


@pytest.mark.integration
async def test_the_server_puts_each_person_in_the_partition_python_computes(
    js: JetStreamContext,
) -> None:
    # given the partitioned stream (created twice: workers start concurrently) and events
    await ensure_partitioned_stream(js, 3)
    await ensure_partitioned_stream(js, 3)
    published = await publish_wire(js, 300)
    await mirrored(js, 3, published[-1][0])
    # when each event is read back from the partitioned stream
    stream = partitioned_stream_name(3)
    for seq, person in published:
        msg = await js.get_msg(stream, seq)
        # then it kept its SEND_EVENTS sequence and sits in the partition partition_of names
        assert msg.subject.split(".")[3] == str(partition_of(person, 3))
        original = await js.get_msg(EVENTS_STREAM, seq)
        assert event_subject_of(msg.subject) == original.subject
        assert msg.data == original.data


@pytest.mark.integration
async def test_three_partition_workers_build_the_read_model_a_replay_of_the_stream_builds(
    nc: Client, js: JetStreamContext, tmp_path: Path
) -> None:
    # given 600 events and one malformed event on a person's subject
    published = await publish_wire(js, 600)
    junk_subject = event_subject("856", "ehc.plan_issued", published[10][1])
    junk_seq = (await js.publish(junk_subject, b'{"type": "ehc.plan_issued"')).seq
    await ensure_partitioned_stream(js, 3)
    # when three workers, one per partition, apply them into one shared store (each with its
    # own connection, as separate processes have)
    shared = DATASET.open_store(tmp_path / "dataset.sqlite")
    partitions = [Partition(i, 3) for i in range(3)]
    connections = [DATASET.open_store(tmp_path / "dataset.sqlite") for _ in partitions]
    runners = [ProjectionRunner(nc, DATASET.name, connection, FAST, partition=p)
               for p, connection in zip(partitions, connections, strict=True)]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    owned_last = {p: max(s for s, person in [*published, (junk_seq, published[10][1])]
                         if p.owns(person)) for p in partitions}
    await eventually(
        lambda: all(shared.position(p.name) >= last for p, last in owned_last.items()), 30
    )
    for runner in runners:
        runner.stop()
    await asyncio.gather(*tasks)
    # then the facts are exactly those of one replay of SEND_EVENTS into a new store
    replayed = DATASET.open_store(tmp_path / "replayed.sqlite")
    await rebuild(nc, replayed)
    assert shared.facts() == replayed.facts()
    assert sum(r.applied for r in runners) == len(published)
    # and the malformed event is dead-lettered once, as SEND_EVENTS' own message
    assert sum(r.dead_lettered for r in runners) == 1
    letter = await js.get_msg(DEADLETTER_STREAM, 1)
    assert letter.headers[ORIGINAL_STREAM] == EVENTS_STREAM
    assert letter.headers[ORIGINAL_SEQUENCE] == str(junk_seq)
    assert letter.headers[ORIGINAL_SUBJECT] == junk_subject
    for store in (shared, replayed, *connections):
        store.close()


def test_workers_starting_together_open_one_postgres_read_model(
    postgres_dsn: str, postgres_schema: str
) -> None:
    # given three partition workers starting at the same moment on one PostgreSQL read model
    opened, failures = [], []

    def start() -> None:
        try:
            opened.append(DATASET.open_store(postgres_dsn, schema=postgres_schema))
        except Exception as exc:  # noqa: BLE001 - the failure is what this test reports
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    # when each creates the schema's tables if they are missing
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every one of them opens the store, and each has its own committed position
    assert failures == []
    for index, store in enumerate(opened):
        assert store.position(Partition(index, 3).name) == 0
        store.close()


def test_the_layout_in_use_lists_every_partition_even_one_never_committed() -> None:
    # given a store whose workers were once 3 and are now 4, worker 2 of 4 not started yet
    rows = [("p0-of-3", 40), ("p1-of-3", 41), ("p2-of-3", 39),
            ("p0-of-4", 90), ("p1-of-4", 95), ("p3-of-4", 93)]
    # when its partitions are read
    positions = partition_positions(rows)
    # then they are the 4 of today, partition 2 at 0
    assert {p.name: seq for p, seq in positions.items()} == {
        "p0-of-4": 90, "p1-of-4": 95, "p2-of-4": 0, "p3-of-4": 93}
    assert partition_positions([]) == {}
    with pytest.raises(ValueError, match="p<index>-of-<count>, e.g. p1-of-3, not 'p1of3'"):
        Partition.named("p1of3")


def test_everything_is_applied_up_to_just_before_the_first_message_a_partition_still_owes() -> None:
    p0, p1, p2 = (Partition(i, 3) for i in range(3))
    applied = {p0: 50, p1: 12, p2: 48}
    # partition 1's next message is 20, the others are caught up: 1..19 are applied
    assert complete_up_to(applied, {p0: None, p1: 20, p2: None}, mirror_last=50) == 19
    # everyone caught up: everything the mirror held when it was read
    assert complete_up_to(applied, {p0: None, p1: None, p2: None}, mirror_last=50) == 50
    # never below what every partition has committed (a mirror read before the commits)
    assert complete_up_to(applied, {p0: None, p1: None, p2: None}, mirror_last=5) == 12


def test_position_of_a_partitioned_read_model_lists_each_partition_and_adds_up_the_lags() -> None:
    p0, p1 = Partition(0, 2), Partition(1, 2)
    progress = Progress(7, (PartitionProgress(p0, 30, None, 0), PartitionProgress(p1, 6, 8, 4)))
    body = position_of(progress, stream_last=31).model_dump()
    assert (body["applied_sequence"], body["stream_last_sequence"], body["lag"]) == (7, 31, 4)
    assert body["partitions"] == [
        {"partition": "p0-of-2", "applied_sequence": 30, "pending_from": None, "lag": 0},
        {"partition": "p1-of-2", "applied_sequence": 6, "pending_from": 8, "lag": 4},
    ]
    unknown = Progress(7, (PartitionProgress(p0, 30, None, 0), PartitionProgress(p1, 6, 8, None)))
    assert position_of(unknown, stream_last=31).lag is None
