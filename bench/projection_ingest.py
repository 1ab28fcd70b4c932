"""(c) Projection ingest: the live runner catching up on a pre-published stream, vs raw consume.

For each projection in the catalogue, one at a time (so each has the machine to itself, like
the yardstick's consumer): a fresh SQLite store and the real `ProjectionRunner` (durable pull
consumer, batches of 256, decode, fold, position in the same transaction, ack after commit) in
its own process, timed until its committed position covers every published event. Target:
at least 0.7x the raw pull-consume rate. The caught-up stores stay for the latency bench.
"""

from __future__ import annotations

from bench.projection_bus import projection_bus, store_path
from bench.projection_process import ProjectionProcess, catalogue
from bench.report import BenchRun, Figure, verdict

INGEST_TARGET = 0.7
MIB = 2**20


def measure_projection_ingest(run: BenchRun) -> list[Figure]:
    bus = projection_bus(run)
    figures = [Figure("events published beforehand", bus.published, "events",
                      note="the population's first events, in bus order")]
    for projection in catalogue():
        store = store_path(bus, projection, "live")
        child = ProjectionProcess("catch-up", projection.name, bus.url, store,
                                  bus.workdir / f"catch-up-{projection.name}.log",
                                  until=bus.published)
        result = child.result(timeout=3_600)
        if result.position < bus.published:
            raise RuntimeError(f"{projection.name} stopped at {result.position:,} of "
                               f"{bus.published:,}")
        bus.live_stores[projection.name] = store
        target = None
        if run.yardstick is not None:
            ratio = result.rate / run.yardstick.consume_rate
            target = verdict(f">= {INGEST_TARGET}x raw consume", ratio >= INGEST_TARGET)
        figures += [
            Figure(f"{projection.name}: runner ingest", result.rate, "events/s", versus="consume",
                   note=f"{result.applied:,} events in {result.seconds:.1f} s", target=target),
            Figure(f"{projection.name}: runner peak RSS", result.peak_rss / MIB, "MiB",
                   note="VmHWM of the runner process"),
        ]
    return figures
