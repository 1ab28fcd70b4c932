"""(c) Projection ingest: the live runner catching up on a pre-published stream, vs raw consume.

For each projection in the catalogue, one at a time (so each has the machine to itself, like
the yardstick's consumer): a fresh SQLite store and the real `ProjectionRunner` (durable pull
consumer, batches following the backlog up to 4,096, decode, fold, position in the same
transaction, one ack per batch after the commit) in its own process, the store where `sendx
projector` would keep it on this machine (in a worker process from 4 cores up, else in a thread:
`projections.reading.store_worker.wanted`), timed until its committed
position covers every published event. Target: at least 0.7x the raw pull-consume rate. The
caught-up stores (the position-only one too) stay for the latency bench, and so do their
runners: each carries on live (idle, caught up) until the latency bench stops it, so that the
latency is that of a warm, long-running projector, not of one just started.

Then the same runner on a store that commits only the position (`position-only`): the bus side
of the runner alone, so that the runner's share and the read model's share of (c) are apart.
Last, each read model again with its store in a worker process whatever the cores: the
throughput a projector gets from a second core (not judged: the default above is).

Each catch-up also prints the runner's CPU per event by phase (`ProjectionRunner.cpu_by_phase`:
fetch and parse in nats-py, keys, decode, store = fold + SQL + commit, ack): with the store in
a thread the runner's process shares one GIL, so the rate can be no higher than one core
divided by their sum, the floor a miss of the target is measured against.
"""

from __future__ import annotations

from bench.projection_bus import ProjectionBus, projection_bus, store_path
from bench.projection_process import POSITION_ONLY, ProcessResult, ProjectionProcess, catalogue
from bench.report import BenchRun, Figure, verdict
from bench.yardstick import Yardstick

INGEST_TARGET = 0.7
MIB = 2**20


def measure_projection_ingest(run: BenchRun) -> list[Figure]:
    bus = projection_bus(run)
    figures = [Figure("events published beforehand", bus.published, "events",
                      note="the population's first events, in bus order")]
    for projection in (*catalogue(), POSITION_ONLY):
        store = store_path(bus, projection, "live")
        child = ProjectionProcess("catch-up", projection.name, bus.url, store,
                                  bus.workdir / f"catch-up-{projection.name}.log",
                                  until=bus.published, stay_live=True)
        run.cleanup.callback(child.kill)
        result = child.caught_up(timeout=3_600)
        bus.live_runners[projection.name] = child
        if result.position < bus.published:
            raise RuntimeError(f"{projection.name} stopped at {result.position:,} of "
                               f"{bus.published:,}")
        bus.live_stores[projection.name] = store
        target = None
        if run.yardstick is not None and projection is not POSITION_ONLY:
            ratio = result.rate / run.yardstick.consume_rate
            target = verdict(f">= {INGEST_TARGET}x raw consume", ratio >= INGEST_TARGET)
        figures += [
            Figure(f"{projection.name}: runner ingest", result.rate, "events/s", versus="consume",
                   note=f"{result.applied:,} events in {result.seconds:.1f} s", target=target),
            Figure(f"{projection.name}: runner peak RSS", result.peak_rss / MIB, "MiB",
                   note="VmHWM of the runner process (and its store worker, if any)"),
            *cpu_figures(projection.name, result, run.yardstick),
        ]
    figures += with_store_workers(run, bus)
    return figures


def cpu_figures(name: str, result: ProcessResult, yardstick: Yardstick | None,
                label: str = "runner") -> list[Figure]:
    """The runner's CPU per event by phase (µs), and the rate one core at that cost allows."""
    if not result.applied or not result.cpu_phases:
        return []
    per_event = {phase: seconds / result.applied * 1e6
                 for phase, seconds in result.cpu_phases.items()}
    total = sum(per_event.values())
    ceiling = 1e6 / total
    versus = f" = {ceiling / yardstick.consume_rate:.2f}x raw consume" if yardstick else ""
    batch = result.applied / result.batches if result.batches else 0
    return [
        Figure(f"{name}: {label} CPU per event", total, "µs",
               note=f"one core at this cost: {ceiling:,.0f} events/s{versus}; "
                    f"{batch:,.0f} events per batch"),
        *(Figure(f"{name}: {label} CPU per event, {phase}", value, "µs")
          for phase, value in per_event.items()),
    ]


def with_store_workers(run: BenchRun, bus: ProjectionBus) -> list[Figure]:
    """The read models again, each in a store worker whatever the cores (`SENDX_STORE_WORKER=on`):
    what a projector with two cores of its own would do, for comparison."""
    figures = []
    for projection in catalogue():
        store = store_path(bus, projection, "worker")
        child = ProjectionProcess("catch-up", projection.name, bus.url, store,
                                  bus.workdir / f"catch-up-worker-{projection.name}.log",
                                  until=bus.published, store_worker="on",
                                  consumer=f"{projection.name}-worker")
        run.cleanup.callback(child.kill)
        result = child.result(timeout=3_600)
        figures.append(Figure(
            f"{projection.name}, store worker: runner ingest", result.rate, "events/s",
            versus="consume", note=f"{result.applied:,} events in {result.seconds:.1f} s, "
                                   f"peak RSS {result.peak_rss / MIB:,.0f} MiB (both processes)"))
    return figures
