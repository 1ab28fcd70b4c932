"""Each measurement of `python -m bench.partnership`, smoke-run at `tiny` scale: real servers,
real stores, positive figures printed against the yardstick; plus the pure pieces they use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.bulk_import import import_rows, measure_bulk_import
from bench.fsync import MODES, measure_fsync, samples_of
from bench.la_store import LA_856, fill_la_store, la_extract_rows
from bench.latency import latencies, measure_latency, one_core_busy, percentile
from bench.partnership import MEASUREMENTS, main, measure_population
from bench.projection_bus import projection_events
from bench.projection_ingest import cpu_figures, measure_projection_ingest
from bench.projection_process import ProcessResult, catalogue
from bench.rebuild_rate import measure_rebuild
from bench.relay_rate import measure_relay, run_relay
from bench.report import BenchRun, Figure, Section, format_value, render, verdict
from bench.yardstick import Yardstick, run_yardstick
from runtime.store import store_env
from sendx.demo.population import WireEvent
from services.la.service import LA_SERVICE


def without_time(state: bytes) -> bytes:
    fields = orjson.loads(state)
    fields.pop("timestamp")
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def by_name(figures: list[Figure]) -> dict[str, Figure]:
    return {f.name: f for f in figures}


def yardstick(publish_rate: float = 1_000.0, consume_rate: float = 2_000.0) -> Yardstick:
    return Yardstick(events=1_000, publish_seconds=1_000 / publish_rate,
                     consume_seconds=1_000 / consume_rate, stream_messages=1_000,
                     stream_bytes=700_000, body_bytes=500_000, duplicates=0, window=10, batch=10)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchRun]:
    """The population and yardstick at tiny scale, shared by the bus measurements."""
    run = BenchRun(scale="tiny", seed=1, workdir=tmp_path_factory.mktemp("bench"))
    measure_population(run)
    run.yardstick = run_yardstick(run.messages, workdir=run.workdir, window=500, batch=200)
    with run.cleanup:
        yield run


@pytest.fixture(scope="module")
def caught_up(tiny_run: BenchRun) -> list[Figure]:
    return measure_projection_ingest(tiny_run)


# ---------------------------------------------------------------------------- pure pieces
def test_a_figure_with_a_baseline_prints_as_a_ratio_of_the_yardstick() -> None:
    value, ratio = format_value(Figure("relay", 500.0, "events/s", versus="publish"), yardstick())
    assert value == "500 events/s"
    assert ratio == "0.50x raw publish"


def test_results_open_with_every_target_and_its_verdict(tmp_path: Path) -> None:
    # given a section with a judged figure and one without a target
    run = BenchRun(scale="tiny", seed=1, workdir=tmp_path, yardstick=yardstick())
    judged = Figure("dataset: runner ingest", 300.0, "events/s", versus="consume",
                    target=verdict(">= 0.7x raw consume", False))
    section = Section("(c) Projection ingest", [judged, Figure("peak", 40.0, "MiB")], 1.0)
    # when rendered with the findings
    text = render(run, [section], "python -m bench.partnership", "## Why\n\nbecause")
    # then a targets table names the verdict before the sections, and the findings close it
    targets = text.index("## Targets")
    assert targets < text.index("## (c) Projection ingest") < text.index("## Why")
    assert ("| (c) Projection ingest | dataset: runner ingest | 300 events/s "
            "(0.15x raw consume) | >= 0.7x raw consume: NOT met |") in text
    assert text.count("NOT met") == 2  # in the table and beside the figure


def test_latency_is_from_publish_to_the_first_poll_covering_the_event() -> None:
    # given three events published at 0.0, 0.1, 0.2 s with stream sequences 11, 12, 13
    published = [(0.0, 11), (0.1, 12), (0.2, 13)]
    # when the store was seen at 10 at 0 s, at 12 at 0.15 s and at 13 at 0.5 s
    seen = [(0.0, 10), (0.15, 12), (0.5, 13)]
    # then 11 and 12 were visible at 0.15 s and 13 at 0.5 s
    assert latencies(published, seen) == pytest.approx([0.15, 0.05, 0.3])


def test_events_never_seen_are_left_out_of_the_latencies() -> None:
    assert latencies([(0.0, 5), (0.1, 6)], [(0.0, 4), (1.0, 5)]) == [1.0]


def test_percentiles_pick_from_the_sorted_values() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0


def test_the_busy_loop_of_the_loaded_phase_is_stopped_when_the_phase_ends() -> None:
    with pytest.raises(RuntimeError), one_core_busy() as burner:
        assert burner.poll() is None  # spinning
        raise RuntimeError("a phase that fails")
    assert burner.poll() is not None


def test_cpu_per_event_is_split_by_phase_and_bounds_the_rate() -> None:
    # given a runner that applied 1,000 events in 10 batches using 0.1 s of CPU
    result = ProcessResult("dataset", "catch-up", 1_000, 1_000, 1.0, 0,
                           cpu_phases={"fetch": 0.02, "decode": 0.03, "store": 0.05},
                           batches=10)
    figures = by_name(cpu_figures("dataset", result, yardstick(consume_rate=20_000.0)))
    # then 100 µs per event, of which 50 in the store, caps one core at 10,000 events/s
    assert figures["dataset: runner CPU per event"].value == pytest.approx(100.0)
    assert figures["dataset: runner CPU per event, store"].value == pytest.approx(50.0)
    assert figures["dataset: runner CPU per event"].note.startswith(
        "one core at this cost: 10,000 events/s = 0.50x raw consume; 100 events per batch")


def test_fsync_samples_are_disjoint_and_shrink_to_fit_a_small_population() -> None:
    messages = [WireEvent(f"s.{i}", str(i), b"x") for i in range(1_600)]
    samples = samples_of(messages)
    ids = [m.msg_id for sample in samples for m in sample]
    assert len(samples) == len(MODES)
    assert len(ids) == len(set(ids)) <= 1_600
    assert all(samples)


def test_the_projection_benches_leave_events_for_the_latency_bench() -> None:
    run = BenchRun(scale="tiny", seed=1, workdir=Path("."),
                   messages=[WireEvent("s", str(i), b"x") for i in range(3_000)])
    assert 0 < projection_events(run) < 3_000
    run.projection_events = 100
    assert projection_events(run) == 100


def test_the_suite_measures_every_item_of_the_issue() -> None:
    titles = " ".join(title for title, _ in MEASUREMENTS)
    for item in ("(b)", "(c)", "(d, f)", "(e)", "(g)", "(h)", "yardstick"):
        assert item in titles


# ---------------------------------------------------------------------------- the LA store
@pytest.mark.integration
def test_batched_saving_stores_the_same_events_as_the_ingest_path(tmp_path: Path) -> None:
    # given the same demo extract rows of LA 856
    rows = la_extract_rows(LA_856, 60)
    # when saved in batches and, separately, imported one row per transaction
    batched = fill_la_store(tmp_path / "batched.sqlite", rows, batch=7)
    imported = import_rows(tmp_path / "imported.sqlite", rows, request_rows=25)
    # then the LA's own events are identical but for the time they were saved (the ingest
    # path adds only its import records)
    def shared(path: Path) -> list[tuple]:
        app = LA_SERVICE.application(LA_856, store_env(LA_856, sqlite_path=path))
        try:
            notes = app.recorder.select_notifications(start=1, limit=100_000)
            return sorted((n.originator_id, n.originator_version, n.topic, without_time(n.state))
                          for n in notes if not n.topic.endswith("ImportedRecord.Imported"))
        finally:
            app.factory.close()

    assert batched.events == len(shared(tmp_path / "batched.sqlite")) > len(rows) * 0.9
    assert shared(tmp_path / "batched.sqlite") == shared(tmp_path / "imported.sqlite")
    assert imported.accepted == imported.rows == len(rows)


# ---------------------------------------------------------------------------- measurements
@pytest.mark.integration
def test_the_relay_publishes_every_shared_event_of_the_la_store(tmp_path: Path) -> None:
    # given an LA store filled with the events of a few children's rows
    filled = fill_la_store(tmp_path / "la.sqlite", la_extract_rows(LA_856, 40))
    # when the relay drains it
    drained = run_relay(filled, tmp_path)
    # then every stored event but the LA's plan-id index is in the stream, once
    assert 0 < drained.published == drained.stream_messages <= filled.events
    assert drained.published >= filled.events - filled.rows * 0.2
    assert drained.rate > 0


@pytest.mark.integration
def test_the_relay_rate_is_printed_against_raw_publish(tiny_run: BenchRun) -> None:
    figures = by_name(measure_relay(tiny_run))
    relay = figures["relay publish, batch 500 (the default)"]
    assert relay.value > 0 and relay.versus == "publish"
    assert figures["relay publish, batch 2,000"].value > 0
    assert figures["LA store pre-filled"].value > 1_000


@pytest.mark.integration
def test_bulk_import_compares_the_ingest_path_with_batched_saves(tiny_run: BenchRun) -> None:
    figures = by_name(measure_bulk_import(tiny_run))
    batched = figures["batched app.save"].value
    ingest = figures["ingest path (Ingest.import_rows)"].value
    assert batched > 0 and ingest > 0
    assert figures["ingest / batched"].value == pytest.approx(ingest / batched)


@pytest.mark.integration
@pytest.mark.slow
def test_fsync_always_is_measured_against_the_default(tiny_run: BenchRun) -> None:
    figures = measure_fsync(tiny_run)
    assert len(figures) == 2 * len(MODES)
    assert all(f.value > 0 and f.versus == "publish" for f in figures)
    assert all("x the default" in f.note for f in figures if "always" in f.name)


@pytest.mark.integration
@pytest.mark.slow
def test_every_projection_catches_up_with_the_published_events(
    tiny_run: BenchRun, caught_up: list[Figure]
) -> None:
    figures = by_name(caught_up)
    published = figures["events published beforehand"].value
    assert 1_000 < published < len(tiny_run.messages)
    for projection in catalogue():
        ingest = figures[f"{projection.name}: runner ingest"]
        assert ingest.value > 0 and ingest.versus == "consume"
        assert ingest.note.startswith(f"{int(published):,} events")
        assert 10 < figures[f"{projection.name}: runner peak RSS"].value < 2_048
        in_worker = figures[f"{projection.name}, store worker: runner ingest"]
        assert in_worker.value > 0 and in_worker.target is None
        assert in_worker.note.startswith(f"{int(published):,} events")
    bus_side = figures["position-only: runner ingest"]
    assert bus_side.value > 0 and bus_side.versus == "consume" and bus_side.target is None


@pytest.mark.integration
@pytest.mark.slow
def test_latency_is_measured_for_every_live_projection(
    tiny_run: BenchRun, caught_up: list[Figure]
) -> None:
    figures = by_name(measure_latency(tiny_run))
    assert figures["publish pace"].value > 0
    for projection in catalogue():
        p50 = figures[f"{projection.name}: latency p50"].value
        p99 = figures[f"{projection.name}: latency p99"].value
        assert 0 < p50 <= p99 <= figures[f"{projection.name}: latency max"].value
        assert figures[f"{projection.name}: latency p99"].target.startswith("p99 < 100 ms: ")
        loaded = figures[f"{projection.name}: latency p99, one core busy"]
        assert loaded.value > 0 and loaded.target.startswith("p99 < 100 ms, one core busy: ")
        assert figures[f"{projection.name}: live runner CPU per event"].value > 0
    assert figures["position-only: latency p99"].value > 0
    assert figures["position-only: latency p99"].target is None


@pytest.mark.integration
@pytest.mark.slow
def test_the_rebuild_replays_every_published_event_into_each_projection(
    tiny_run: BenchRun, caught_up: list[Figure]
) -> None:
    figures = by_name(measure_rebuild(tiny_run))
    published = tiny_run.projection_bus.published
    names = [p.name for p in catalogue()]
    for how in ("one reader for all", "one process per projection"):
        assert figures[f"{how}: all projections rebuilt"].value > 0
        assert figures[f"{how}: CPU per event"].value > 0
    together = figures[f"one reader for all: {' + '.join(names)} rebuild"]
    assert together.value > 0 and together.versus == "consume"
    assert together.note.startswith(f"{published:,} events in")
    assert figures[f"one reader for all: reader of {' + '.join(names)} peak RSS"].target == (
        "< 2 GiB: met")
    for name in names:
        rebuild = figures[f"one process per projection: {name} rebuild"]
        assert rebuild.value > 0 and rebuild.versus == "consume"
        assert rebuild.note.startswith(f"{published:,} events")
        for how in ("one reader for all", "one process per projection"):
            worker = figures[f"{how}: {name} store worker peak RSS"]
            assert 10 < worker.value < 2_048 and worker.target == "< 2 GiB: met"
    assert figures["10 million events: CPU time needed"].value > 0


@pytest.mark.integration
@pytest.mark.slow
def test_the_partnership_command_writes_results_with_every_section(tmp_path: Path,
                                                                   monkeypatch) -> None:
    # given only the cheap measurements, to keep the test fast
    monkeypatch.setattr("bench.partnership.MEASUREMENTS", MEASUREMENTS[:2])
    out = tmp_path / "RESULTS.md"
    # when the command runs at tiny scale
    assert main(["--scale", "tiny", "--out", str(out)]) == 0
    # then the results name the machine, the command and the yardstick's figures
    text = out.read_text()
    assert "python -m bench.partnership --scale tiny" in text
    assert "## Raw bus yardstick" in text and "raw publish_async" in text


def test_the_go_live_bench_imports_a_caseload_with_no_invented_history(tmp_path: Path) -> None:
    from bench.golive import icb_go_live_rows, la_go_live_rows, measure_golive

    # given the go-live extracts the bench generates: plans in force and migrated referrals only
    la, icb = la_go_live_rows(50), icb_go_live_rows(80)
    assert {r["command"] for r in la} == {"person.register", "ehc.record_plan_in_force"}
    assert {r["command"] for r in icb} == {"person.register", "health.make_referral"}
    assert sum(r["command"] == "health.make_referral" for r in icb) == 80
    assert all(r["migrated_from"] for r in la + icb if r["command"] != "person.register")
    # when the measurement runs at tiny scale (every row must be accepted, or it raises)
    figures = by_name(measure_golive(BenchRun(scale="tiny", seed=1, workdir=tmp_path)))
    # then both paths have a rate, the ratio is judged against 0.8x and the memory is measured
    ratio = figures["LA 856 plans in force: ingest / batched"]
    assert ratio.value > 0 and ratio.target is not None and "0.8x" in ratio.target
    assert figures["ICB QK1 referrals: ingest path"].value > 0
    assert 0 < figures["peak RSS of the importing process"].value < 1024
