"""A rebuild that folds each person once (spilled by person, bulk-loaded) holds exactly what the
incremental path holds for the same stream: every table's digest, the counts, the bad messages.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import Envelope, encode
from contracts.subjects import event_subject
from projections.audit.digest import differences, store_contents
from projections.catalogue import CATALOGUE
from projections.dataset.store import DatasetStore
from projections.reading.applying import LocalApplier
from projections.reading.batch import RawEvent
from projections.reading.fold_workers import FoldWorkers
from projections.reading.folding import CPU_PHASES
from projections.reading.rebuild import RecordedBy, rebuild, rebuild_all
from projections.reading.spill import SpillWriter
from projections.reading.store_worker import StoreWorker
from projections.tracker.store import TrackerStore
from sendx.demo.population import WireEvent
from tests.projections.audit.conftest import publish_wire, tiny_population
from tests.projections.reading.test_order_and_redelivery import KINDS, PEOPLE

JUNK = b"{oops"
GO_LIVE = {
    "in_force": lambda e, p, d: e.plan_in_force(p, d - timedelta(days=900)),
    "referred_at_go_live": lambda e, p, d: migrated(e.referral_made(p, d)),
    "ap_at_go_live": lambda e, p, d: migrated(e.placement_started(p, d)),
}
"""Openings recorded at go-live: a step on what they open is kept, on both paths alike."""
STEPS = {**KINDS, **GO_LIVE}
specs_with_go_live = st.lists(
    st.tuples(st.sampled_from(sorted(PEOPLE)), st.sampled_from(sorted(STEPS)),
              st.dates(date(2024, 1, 1), date(2026, 6, 30))),
    min_size=1, max_size=40,
)


def migrated(envelope: Envelope) -> Envelope:
    payload = envelope.payload.model_copy(update={"migrated_from": "systmone"})
    return envelope.model_copy(update={"payload": payload})


def stream_of(history: list, rng: random.Random) -> list[RawEvent]:
    """The events as a stream holds them: some twice, shuffled, with a bad message or two."""
    arrived = history + rng.sample(history, k=rng.randint(0, len(history)))
    rng.shuffle(arrived)
    raws = [RawEvent(0, event_subject(e.source_org, e.type, e.person_key), encode(e))
            for e in arrived]
    for _ in range(rng.randint(0, 2)):
        raws.insert(rng.randint(0, len(raws)), RawEvent(0, raws[0].subject, JUNK))
    return [RawEvent(seq, subject, data) for seq, (_, subject, data) in enumerate(raws, 1)]


def incremental(store, raws: list[RawEvent], rng: random.Random, accept) -> tuple:  # noqa: ANN001
    """Batch by batch, as the live runner and a resuming rebuild apply them."""
    applier, applied, filtered, invalid, position = LocalApplier(store), 0, 0, [], 0
    while raws:
        size = rng.randint(1, 9)
        batch, raws = raws[:size], raws[size:]
        outcome = applier.decode_and_apply(
            batch, after=position, accept=accept, keys={}, commit_invalid=True
        )
        applied, filtered = applied + outcome.applied, filtered + outcome.filtered_out
        invalid += [(batch[i].seq, reason) for i, reason, _ in outcome.invalid]
        position = outcome.position or position
    return position, applied, filtered, invalid


def grouped(store, raws: list[RawEvent], directory: Path, partitions: int, accept) -> tuple:  # noqa: ANN001
    """Spilled to `partitions` files by person, each person folded once."""
    spill = SpillWriter(directory, partitions)
    spill.add(raws, {})
    files = spill.close()
    applier = LocalApplier(store)
    assert applier.bulk_begin()
    applied, filtered, invalid = 0, 0, []
    for path in files.paths:
        loaded = applier.bulk_partition(path, accept=accept)
        assert loaded is not None
        applied, filtered = applied + loaded.applied, filtered + loaded.filtered_out
        invalid += loaded.invalid
    return applier.bulk_finish(files.highest), applied, filtered, sorted(invalid)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=specs_with_go_live, seed=st.integers(0, 2**32 - 1), partitions=st.integers(1, 3),
    cut=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2026, 6, 30))),
)
def test_folding_each_person_once_holds_what_the_incremental_path_holds(
    events, specs, seed, partitions, cut
) -> None:
    # given a stream of a partnership's events, some twice, shuffled, with bad messages (and
    # steps arriving before what they act on was opened, which both paths refuse alike)
    rng = random.Random(seed)
    raws = stream_of([STEPS[kind](events, person, day) for person, kind, day in specs], rng)
    accept = None if cut is None else RecordedBy(datetime.combine(cut, datetime.min.time(), UTC))
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for kind in (DatasetStore, TrackerStore):
            # when one store applies it batch by batch and a fresh one folds each person once
            one, other = kind(root / f"inc-{kind.__name__}"), kind(root / f"bulk-{kind.__name__}")
            spill = root / f"spill-{kind.__name__}"
            spill.mkdir()
            by_batch = incremental(one, list(raws), rng, accept)
            by_person = grouped(other, raws, spill, partitions, accept)
            # then position, counts and bad messages agree, and so does every table
            assert by_person == by_batch
            assert differences(store_contents(one), store_contents(other)) == []
            one.close()
            other.close()


@pytest.mark.integration
async def test_a_rebuild_of_the_partnership_stream_equals_the_live_read_models(
    nc: Client, js: JetStreamContext, tmp_path: Path
) -> None:
    # given the bench's tiny partnership on the stream, applied batch by batch into every
    # read model (a store already holding events resumes the incremental way)
    population: tuple[WireEvent, ...] = tiny_population()
    await publish_wire(js, population[:50])
    live = {p.name: p.open_store(tmp_path / f"live-{p.name}.sqlite") for p in CATALOGUE}
    await rebuild_all(nc, list(live.values()), batch_size=50)
    await publish_wire(js, population[50:])
    reports = await rebuild_all(nc, list(live.values()), batch_size=97)
    assert not any(r.grouped for r in reports)
    # when each is rebuilt from scratch, folding each person once
    fresh = {p.name: p.open_store(tmp_path / f"rebuilt-{p.name}.sqlite") for p in CATALOGUE}
    rebuilt = await rebuild_all(nc, list(fresh.values()), spill_dir=tmp_path)
    # then every table of every read model has the live store's digest
    assert all(r.grouped and r.position == len(population) for r in rebuilt)
    # with the CPU its folding took by phase, for the bench's floor figures
    assert all(set(r.cpu) == set(CPU_PHASES) and r.cpu["decode"] > 0 for r in rebuilt)
    for name, store in fresh.items():
        assert differences(store_contents(live[name]), store_contents(store)) == []
    for store in (*live.values(), *fresh.values()):
        store.close()
    # and the partition files are gone
    assert not list(tmp_path.glob("sendx-rebuild-*"))


@pytest.mark.integration
async def test_an_event_id_under_two_people_is_rebuilt_the_incremental_way(
    nc: Client, publish, events, tmp_path: Path
) -> None:
    # given a plan for amira, then the same event id published again as ben's (a faulty relay)
    first = events.plan_issued("amira", date(2025, 5, 2))
    await publish(first)
    await publish(first.model_copy(update={"person_key": events.person("ben")}),
                  msg_id="another-message")
    await publish(events.plan_issued("cara", date(2025, 5, 3)))
    # when a fresh store is rebuilt, and another store applies the stream batch by batch
    fresh, by_batch = DatasetStore(tmp_path / "fresh.sqlite"), DatasetStore(tmp_path / "b.sqlite")
    report = await rebuild(nc, fresh)
    await rebuild_all(nc, [by_batch], batch_size=1, stop_seq=1)
    await rebuild_all(nc, [by_batch], batch_size=1)
    # then the rebuild fell back to the incremental path and holds what it holds: amira's plan
    # once (the first copy wins), no plan for ben
    assert (report.grouped, report.position, report.applied) == (False, 3, 3)
    assert differences(store_contents(by_batch), store_contents(fresh)) == []
    with fresh.snapshot() as snapshot:
        people = {row[0] for row in snapshot.query("SELECT person_key FROM ehc_plans")}
    assert people == {events.person("amira"), events.person("cara")}
    fresh.close()
    by_batch.close()


def test_on_postgresql_the_load_is_copied_in_and_equals_the_incremental_path(
    events, postgres_dsn: str, postgres_schema: str, tmp_path: Path
) -> None:
    # given a stream of four children's events, some twice, shuffled, with a bad message
    rng = random.Random(7)
    specs = [(person, kind, date(2024, 1, 1) + (date(2026, 6, 30) - date(2024, 1, 1)) * (n / 80))
             for n, (person, kind) in enumerate(
                 (rng.choice(["amira", "ben", "cara", "dev"]), rng.choice(sorted(KINDS)))
                 for _ in range(80))]
    raws = stream_of([KINDS[kind](events, person, day) for person, kind, day in specs], rng)
    # when a SQLite store applies it batch by batch and a PostgreSQL one folds each person once
    one = DatasetStore(tmp_path / "incremental.sqlite")
    other = DatasetStore(postgres_dsn, schema=postgres_schema)
    spill = tmp_path / "spill"
    spill.mkdir()
    by_batch = incremental(one, list(raws), rng, None)
    by_person = grouped(other, raws, spill, 2, None)
    # then they hold the same rows, and PostgreSQL has its indexes back
    assert by_person == by_batch
    assert differences(store_contents(one), store_contents(other)) == []
    with other.snapshot() as snapshot:
        indexes = {row[0] for row in snapshot.query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = ?", (postgres_schema,))}
    assert {"person_events_by_person", "ehc_plans_by_issued_on_la_code"} <= indexes
    one.close()
    other.close()


def test_an_event_id_under_two_people_empties_the_store_for_the_incremental_path(
    events, postgres_dsn: str, postgres_schema: str, tmp_path: Path
) -> None:
    # given one event id on the stream as amira's and again as ben's
    first = events.plan_issued("amira", date(2025, 5, 2))
    copy = first.model_copy(update={"person_key": events.person("ben")})
    raws = [RawEvent(seq, event_subject(e.source_org, e.type, e.person_key), encode(e))
            for seq, e in enumerate((first, copy), 1)]
    for store in (DatasetStore(tmp_path / "d.sqlite"),
                  DatasetStore(postgres_dsn, schema=postgres_schema)):
        spill = SpillWriter(tmp_path, 1)
        spill.add(raws, {})
        (path,) = spill.close().paths
        applier = LocalApplier(store)
        # when a fresh store loads them person by person
        assert applier.bulk_begin()
        # then it gives up, and is empty and fresh again for the incremental path
        assert applier.bulk_partition(path) is None
        applier.bulk_abandon()
        assert store.position() == 0 and not any(store.facts().values())
        assert applier.bulk_begin()
        applier.bulk_finish(0)
        store.close()


@pytest.mark.integration
async def test_three_fold_workers_rebuild_one_postgresql_store_as_one_would(
    nc: Client, js: JetStreamContext, postgres_dsn: str, postgres_schema: str, tmp_path: Path
) -> None:
    # given the tiny partnership on the stream, and a SQLite store applying it batch by batch
    await publish_wire(js, tiny_population()[:1500])
    by_batch = DatasetStore(tmp_path / "by-batch.sqlite")
    await rebuild_all(nc, [by_batch], batch_size=1, stop_seq=1)
    await rebuild_all(nc, [by_batch], batch_size=200)
    # when three worker processes fold the people into one PostgreSQL schema at once
    workers = FoldWorkers([
        StoreWorker(f"dataset-{n}", partial(DatasetStore, postgres_dsn, schema=postgres_schema))
        for n in range(3)
    ])
    try:
        (report,) = await rebuild_all(nc, [workers], spill_dir=tmp_path)
        pids = {w.pid for w in workers.workers}
    finally:
        workers.close()
    # then each did part of it, and the store holds exactly what the incremental path holds
    assert report.grouped and report.position == 1500 and len(pids) == 3
    rebuilt = DatasetStore(postgres_dsn, schema=postgres_schema)
    assert differences(store_contents(by_batch), store_contents(rebuilt)) == []
    rebuilt.close()
    by_batch.close()
