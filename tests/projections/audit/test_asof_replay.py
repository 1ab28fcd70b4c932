"""As-of replays: the read model as the dashboard showed it at a moment, or as the world was then.

The live dataset runner (tests/projections/conftest.py `live`) consumes the realistic
population from a real nats-server; the auditor replays into fresh stores and compares.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from projections.audit.asof import ReplayBy, StoreExists, replay_as_of
from projections.audit.digest import Contents, store_contents
from projections.audit.person import person_history
from projections.audit.tamper import check_chains
from projections.catalogue import projection_named
from projections.reading.projection import durable_name
from runtime.bus.streams import EVENTS_STREAM
from sendx.demo.population import WireEvent
from tests.projections.audit.conftest import publish_wire, run_sendx_audit, tiny_population
from tests.waiting import eventually

DATASET = projection_named("dataset")

pytestmark = pytest.mark.integration


def digests(contents: Contents) -> dict[str, str]:
    """Each table's order-independent digest (rows come back in storage order)."""
    return {name: table.digest for name, table in contents.tables.items()}


def contents_at(path: Path) -> Contents:
    store = DATASET.open_store(path)
    try:
        return store_contents(store)
    finally:
        store.close()


async def test_a_recorded_replay_equals_what_the_live_projection_showed_at_that_moment(
    js: JetStreamContext, nc: Client, live, tmp_path: Path
) -> None:
    # given the live projection caught up with the first part of the history ...
    events = tiny_population()
    await publish_wire(js, events[:1800])
    shown_position = await live.caught_up()
    shown = store_contents(live.store)
    shown_facts = live.store.facts()
    moment = datetime.now(UTC)
    await eventually(lambda: datetime.now(UTC) > moment, what="the clock to pass the moment")
    # ... and then the rest published and applied
    await publish_wire(js, events[1800:])
    await live.caught_up()
    assert live.store.facts() != shown_facts

    # when the auditor replays "what the system knew" as of that moment
    replay = await replay_as_of(nc, DATASET, tmp_path / "asof.sqlite", as_of=moment,
                                by=ReplayBy.RECORDED)

    # then the replay is exactly what the live projection held then: same position, same facts,
    # same rows in every table
    store = DATASET.open_store(tmp_path / "asof.sqlite")
    try:
        replayed_facts = store.facts()
    finally:
        store.close()
    assert replay.position == shown_position == 1800
    assert replayed_facts == shown_facts
    assert digests(contents_at(tmp_path / "asof.sqlite")) == digests(shown)


async def test_the_replay_command_exports_the_tables_as_of_a_moment(
    js: JetStreamContext, live, tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a dashboard moment after the first 1000 events, and more published since
    events = tiny_population()
    await publish_wire(js, events[:1000])
    await live.caught_up()
    shown = store_contents(live.store)
    moment = datetime.now(UTC)
    await eventually(lambda: datetime.now(UTC) > moment, what="the clock to pass the moment")
    await publish_wire(js, events[1000:])
    await live.caught_up()

    # when the auditor runs `sendx audit replay … --export json`
    status = await run_sendx_audit(
        "replay", "--as-of", moment.isoformat(), "--by", "recorded", "--projection", "dataset",
        "--out", str(tmp_path / "replayed.sqlite"), "--export", "json", "--nats", nats_url,
    )

    # then the export names the stream sequence and carries the same rows, table by table
    assert status == 0
    (exported,) = orjson.loads(capsys.readouterr().out)
    assert exported["as_at_stream_sequence"] == 1000
    assert {name: t["digest"] for name, t in exported["tables"].items()} == digests(shown)
    assert len(exported["tables"]["person_events"]["rows"]) == 1000
    assert (tmp_path / "replayed.sqlite").exists()


async def test_an_occurred_replay_keeps_every_event_that_had_happened_by_then(
    js: JetStreamContext, nc: Client, population: tuple[WireEvent, ...], tmp_path: Path
) -> None:
    # given the whole population on the bus (events of 2019-2026, many delivered late)
    moment = datetime(2022, 7, 1, tzinfo=UTC)
    happened = {
        body["event_id"] for body in map(orjson.loads, (w.data for w in population))
        if datetime.fromisoformat(body["occurred_at"]) <= moment
    }

    # when the auditor replays "what was true" on 1 July 2022
    replay = await replay_as_of(nc, DATASET, tmp_path / "occurred.sqlite", as_of=moment,
                                by=ReplayBy.OCCURRED)

    # then exactly the events that had occurred by then were applied, the rest left out
    contents = contents_at(tmp_path / "occurred.sqlite")
    applied = {row["event_id"] for row in contents.tables["person_events"].as_dicts()}
    assert applied == happened
    assert (replay.applied, replay.left_out) == (len(happened), len(population) - len(happened))
    assert replay.position == len(population)


async def test_a_recorded_replay_before_anything_was_stored_is_empty(
    nc: Client, population: tuple[WireEvent, ...], tmp_path: Path
) -> None:
    # when the auditor replays as of a moment before the first event reached the bus
    replay = await replay_as_of(nc, DATASET, tmp_path / "before.sqlite",
                                as_of=datetime.now(UTC) - timedelta(days=1), by=ReplayBy.RECORDED)

    # then the read model is empty, at stream sequence 0
    assert (replay.position, replay.applied) == (0, 0)


async def test_a_replay_never_overwrites_an_existing_store(
    nc: Client, population: tuple[WireEvent, ...], tmp_path: Path
) -> None:
    # given a store already at the chosen path
    existing = tmp_path / "existing.sqlite"
    DATASET.open_store(existing).close()

    # when a replay targets it, then it is refused, naming the path
    with pytest.raises(StoreExists, match="existing.sqlite exists"):
        await replay_as_of(nc, DATASET, existing, as_of=datetime.now(UTC), by=ReplayBy.RECORDED)


async def test_a_moment_without_a_utc_offset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # when the auditor forgets the offset, then the command line says how to write it
    with pytest.raises(SystemExit):
        await run_sendx_audit("replay", "--as-of", "2025-06-30T12:00:00")
    assert "has no UTC offset: write e.g. 2025-06-30T12:00:00+00:00" in capsys.readouterr().err


async def settled_consumer(js: JetStreamContext, position: int) -> ConsumerInfo:
    """The live consumer once the server has processed every ack up to `position`."""

    async def settled() -> ConsumerInfo | None:
        info = await js.consumer_info(EVENTS_STREAM, durable_name("dataset"))
        return info if info.ack_floor.stream_seq == position and info.num_ack_pending == 0 else None

    return await eventually(settled, 20, what=f"the live consumer acked up to {position}")


async def test_audits_leave_the_live_consumer_and_store_untouched(
    js: JetStreamContext, nc: Client, live, tmp_path: Path
) -> None:
    # given the live projection caught up with the history
    events = tiny_population()
    await publish_wire(js, events)
    position = await live.caught_up()
    before = await settled_consumer(js, position)
    live_rows = store_contents(live.store)

    # when the auditor replays both ways, checks the chains and exports a person's history
    for by in ReplayBy:
        await replay_as_of(nc, DATASET, tmp_path / f"{by}.sqlite", as_of=datetime.now(UTC),
                           by=by)
    await check_chains(nc)
    await person_history(nc, orjson.loads(events[0].data)["person_key"])
    await nc.flush()  # the server has had everything the audits sent on this connection

    # then the live durable consumer has delivered and acknowledged exactly what it had, and the
    # live store is unchanged
    after = await js.consumer_info(EVENTS_STREAM, durable_name("dataset"))
    assert (after.delivered.stream_seq, after.ack_floor.stream_seq, after.num_pending,
            after.num_ack_pending) == (before.delivered.stream_seq, before.ack_floor.stream_seq,
                                       before.num_pending, before.num_ack_pending)
    assert after.ack_floor.stream_seq == position == len(events)
    assert live.runner.position == position
    assert digests(store_contents(live.store)) == digests(live_rows)
