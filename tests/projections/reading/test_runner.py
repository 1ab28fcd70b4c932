"""The live runner on a real nats-server: resumes, never double counts, dead-letters bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import Envelope, encode
from contracts.subjects import event_subject
from projections.dataset.areas import Partnership
from projections.dataset.facts import dataset_facts
from projections.dataset.periods import Month
from projections.dataset.store import SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.reading.dead_lettering import ERROR, ORIGINAL_SEQUENCE, ORIGINAL_SUBJECT, REASON
from projections.reading.projection import StreamEvent, durable_name
from projections.reading.rebuild import rebuild, recorded_by
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM
from tests.waiting import eventually

pytestmark = pytest.mark.integration

MAY = Month(2025, 5)
FAST_SETTINGS = ConsumerSettings(batch_size=50, fetch_timeout=0.2, retry_delay=0.2)


def active_at_end_of(store: SqliteDatasetStore, month: Month, la: str = "856") -> int:
    return exact_counts(store, "active-plans", month, la).get("la_count", 0)


def timeliness(store: SqliteDatasetStore) -> dict[str, int]:
    return exact_counts(store, "twenty-week-timeliness", MAY, "856")


async def test_an_issued_plan_appears_in_active_plans_and_timeliness(live, publish, events) -> None:
    # given an LA publishes a request and, 140 days later, the plan
    await publish(events.assessment_requested("amira", date(2025, 1, 6)))
    await publish(events.plan_issued("amira", date(2025, 5, 26)))
    # when the projection catches up
    assert await live.caught_up() == 2
    # then the plan is active at the end of May and counted as issued within 20 weeks
    assert active_at_end_of(live.store, Month(2025, 5)) == 1
    assert timeliness(live.store) == {"issued": 1, "counted": 1, "within": 1}


async def test_a_restarted_projection_resumes_from_its_committed_position(
    live, publish, events, nats_url
) -> None:
    # given two plans applied, then the projection stopped
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await publish(events.plan_issued("ben", date(2025, 5, 9)))
    await live.caught_up()
    await live.stop()
    # when a third is published while it is down and it starts again
    await publish(events.plan_issued("cara", date(2025, 5, 16)))
    await live.start()
    # then it applies only the new message, and counts three plans
    assert await live.caught_up() == 3
    assert live.runner.applied == 1
    assert active_at_end_of(live.store, Month(2025, 5)) == 3
    # and its figures equal a replay of the whole stream into a new store
    nc = await connect_bus(nats_url, name="test-replay")
    replayed = SqliteDatasetStore(live.db_path.with_name("replayed.sqlite"))
    await rebuild(nc, replayed)
    assert replayed.person_facts() == live.store.person_facts()
    replayed.close()
    await nc.close()


async def test_a_deleted_consumer_is_recreated_after_the_store_position(
    live, js: JetStreamContext, publish, events
) -> None:
    # given one plan applied and the projection stopped, and its consumer deleted by an operator
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await live.caught_up()
    await live.stop()
    await js.delete_consumer(EVENTS_STREAM, durable_name("dataset"))
    # when another plan is published and the projection starts
    await publish(events.plan_issued("ben", date(2025, 5, 9)))
    await live.start()
    # then it reads on from its own position: only the new plan is applied
    assert await live.caught_up() == 2
    consumer = await js.consumer_info(EVENTS_STREAM, durable_name("dataset"))
    assert consumer.config.opt_start_seq == 2
    assert live.runner.applied == 1
    assert active_at_end_of(live.store, Month(2025, 5)) == 2


async def test_a_fresh_store_reads_the_whole_stream_even_if_the_consumer_is_ahead(
    live, publish, events, tmp_path: Path
) -> None:
    # given a consumer that has acked two messages into another store
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await publish(events.plan_issued("ben", date(2025, 5, 9)))
    await live.caught_up()
    await live.stop()
    # when the projection starts on an empty store
    await live.start(tmp_path / "fresh.sqlite")
    # then it reads from the beginning
    assert await live.caught_up() == 2
    assert live.runner.applied == 2
    assert active_at_end_of(live.store, Month(2025, 5)) == 2


async def test_a_republished_event_is_counted_once(live, publish, events) -> None:
    # given a relay republished a plan after the stream's duplicate window (a new stream message)
    plan = events.plan_issued("amira", date(2025, 5, 2))
    await publish(plan)
    await publish(plan, msg_id=f"replayed-{uuid4()}")
    # when the projection applies both messages, then there is one plan
    assert await live.caught_up() == 2
    assert active_at_end_of(live.store, Month(2025, 5)) == 1


class CommitThenLoseTheAck:
    """A store whose first commit succeeds but whose caller never hears (as in a crash)."""

    def __init__(self, store: SqliteDatasetStore) -> None:
        self.store = store
        self.failed = False

    def position(self) -> int:
        return self.store.position()

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        applied = self.store.apply_batch(events, position)
        if not self.failed:
            self.failed = True
            raise OSError("connection lost after commit")
        return applied

    def close(self) -> None:
        self.store.close()


async def test_a_batch_redelivered_after_its_commit_changes_nothing(
    nats_url: str, publish, events, tmp_path: Path, fast: ConsumerSettings
) -> None:
    # given a runner whose first batch commits but is then naked and redelivered
    store = CommitThenLoseTheAck(SqliteDatasetStore(tmp_path / "dataset.sqlite"))
    nc = await connect_bus(nats_url, name="test-redelivery")
    runner = ProjectionRunner(nc, "dataset", store, fast)
    task = asyncio.create_task(runner.run())
    # when a plan is published
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await eventually(lambda: runner.position >= 1, 20, what="runner.position >= 1", interval=0.02)
    runner.stop()
    await task
    # then the redelivery was applied without effect: one plan, position 1
    assert store.failed
    assert active_at_end_of(store.store, Month(2025, 5)) == 1
    assert store.position() == 1
    store.close()
    await nc.close()


async def test_invalid_messages_are_dead_lettered_with_their_reason_and_original_bytes(
    live, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    # given four messages the data standard refuses, then a valid plan
    amira = events.person("amira")
    plan_subject = event_subject("856", "ehc.plan_issued", amira)
    unknown = orjson.loads(encode(events.plan_issued("amira", date(2025, 5, 2))))
    unknown.update(type="ehc.plan_exploded", event_id=str(uuid4()))
    mismatched = events.plan_issued("ben", date(2025, 5, 2))
    refused = [
        (plan_subject, b"{not json"),
        (event_subject("856", "ehc.plan_exploded", amira), orjson.dumps(unknown)),
        (event_subject("855", "ehc.plan_issued", mismatched.person_key), encode(mismatched)),
        ("send.evt.junk", b"{}"),
    ]
    for subject, body in refused:
        await js.publish(subject, body)
    await publish(events.plan_issued("cara", date(2025, 5, 9)))
    # when the projection catches up, then it kept going: the valid plan is counted
    assert await live.caught_up() == 5
    assert active_at_end_of(live.store, Month(2025, 5)) == 1
    # and each refused message is on the dead-letter stream, saying why, with its original bytes
    letters = [await js.get_msg(DEADLETTER_STREAM, seq) for seq in range(1, 5)]
    assert [(m.subject, m.headers[REASON], m.headers[ORIGINAL_SEQUENCE]) for m in letters] == [
        ("send.dlq.decode.856", "bad_json", "1"),
        ("send.dlq.decode.856", "unknown_type", "2"),
        ("send.dlq.decode.855", "subject_mismatch", "3"),
        ("send.dlq.decode.unknown", "bad_envelope", "4"),
    ]
    assert [m.data for m in letters] == [body for _, body in refused]
    assert [m.headers[ORIGINAL_SUBJECT] for m in letters] == [subject for subject, _ in refused]
    assert "not valid JSON" in letters[0].headers[ERROR]
    assert "ehc.plan_exploded" in letters[1].headers[ERROR]
    # and reading the stream again into a fresh store does not dead-letter them twice
    await live.stop()
    await live.start(tmp_path / "again.sqlite")
    await live.caught_up()
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 4


async def test_a_plan_arriving_before_its_request_ends_with_the_same_figures(
    live, publish, events
) -> None:
    # given the plan and health's flag arrive before the LA's request (out of order)
    history = [
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
        events.health_flag_set("amira", date(2025, 5, 28)),
    ]
    await publish(history[1])
    await publish(history[2])
    await live.caught_up()
    assert timeliness(live.store) == {"issued": 1, "no_request_recorded": 1}
    # when the request arrives
    await publish(history[0])
    await live.caught_up()
    # then the figures are those of the events in the order they happened
    assert timeliness(live.store) == {"issued": 1, "counted": 1, "within": 1}
    assert live.store.person_facts() == dataset_facts(history)


@pytest.mark.slow
async def test_the_projection_carries_on_after_the_server_restarts(
    nats_server: NatsServer, nc: Client, live, publish, events
) -> None:
    # given a plan applied
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await live.caught_up()
    # when the server restarts (same data directory and port) and another plan is published
    nats_server.stop()
    nats_server.start()
    publisher = await connect_bus(nats_server.url, name="test-publisher")
    ben = events.plan_issued("ben", date(2025, 5, 9))
    await publisher.jetstream().publish(
        event_subject("856", ben.type, ben.person_key), encode(ben),
        headers={"Nats-Msg-Id": str(ben.event_id)},
    )
    # then the projection reconnects and applies it
    await eventually(lambda: live.runner.position >= 2, 20, what="live.runner.position >= 2")
    assert active_at_end_of(live.store, Month(2025, 5)) == 2
    await publisher.close()
    # let the suite's own client reconnect before teardown
    await eventually(lambda: nc.is_connected, 20, what="nc.is_connected")


async def test_rebuild_replays_up_to_a_sequence_or_what_was_recorded_by_a_time(
    js: JetStreamContext, nats_url: str, publish, events, tmp_path: Path
) -> None:
    # given three plans recorded in May, June and July, and an invalid message
    def recorded(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 17, tzinfo=UTC)

    def plan(name: str, issued: date) -> Envelope:
        return events.plan_issued(name, issued, recorded_at=recorded(issued))

    await publish(plan("amira", date(2025, 5, 26)))
    await publish(plan("ben", date(2025, 6, 10)))
    await js.publish(event_subject("856", "ehc.plan_issued", events.person("dev")), b"{oops")
    await publish(plan("cara", date(2025, 7, 5)))
    nc = await connect_bus(nats_url, name="test-rebuild")
    july = Month(2025, 7)
    # when an auditor replays up to stream sequence 2
    as_at_2 = SqliteDatasetStore(tmp_path / "as-at-2.sqlite")
    report = await rebuild(nc, as_at_2, stop_seq=2)
    # then only the first two plans are in it
    assert (report.position, report.applied) == (2, 2)
    assert active_at_end_of(as_at_2, july) == 2
    # when they replay everything recorded by the end of June
    by_june = SqliteDatasetStore(tmp_path / "by-june.sqlite")
    end_of_june = datetime(2025, 6, 30, 23, 59, tzinfo=UTC)
    report = await rebuild(nc, by_june, accept=recorded_by(end_of_june))
    # then July's plan is left out and the invalid message is reported, not applied
    assert (report.position, report.applied, report.filtered_out) == (4, 2, 1)
    assert report.invalid == [(3, "bad_json")]
    assert active_at_end_of(by_june, july) == 2
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 0
    as_at_2.close()
    by_june.close()
    await nc.close()


async def test_the_projector_keeps_every_read_model_in_the_catalogue_up_to_date(
    nats_url: str, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    from projections.catalogue import CATALOGUE
    from projections.serving.processes import open_store, run_projector
    from projections.tracker.queries import tracker_rows
    from projections.tracker.store import TRACKER

    # given the projector running every projection of the catalogue
    locations = {p.name: tmp_path / f"{p.name}.sqlite" for p in CATALOGUE}
    assert set(locations) >= {"dataset", "tracker"}
    task = asyncio.create_task(run_projector(nats_url, locations, FAST_SETTINGS))
    # when a young person's registration and plan are published
    await publish(events.registered("amira", "2011-04"))
    await publish(events.plan_issued("amira", date(2020, 3, 2)))
    stores = {p.name: open_store(p, locations[p.name]) for p in CATALOGUE}
    try:
        await eventually(lambda: all(s.position() >= 2 for s in stores.values()), 20,
                         what="all(s.position() >= 2 for s in stores.values())")
        # then the dataset counts the plan and the tracker follows her from 14
        assert active_at_end_of(stores["dataset"], Month(2025, 6)) == 1
        tracked = tracker_rows(stores[TRACKER.name], date(2025, 6, 1), Partnership.of())
        assert [p.person_key for p in tracked.people] == [events.person("amira")]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for store in stores.values():
            store.close()
