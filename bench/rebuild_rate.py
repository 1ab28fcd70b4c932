"""(d) Full rebuild of every projection from the stream, and (f) each process's peak memory.

Every projection in the catalogue is rebuilt from stream sequence 1 to the last event on the
server into fresh SQLite stores, in the two ways a deployment can do it:

- one reader for all (`projections.reading.rebuild.rebuild_all`, what `sendx rebuild --projection A
  --projection B` does): the stream read once by batched direct gets, every store decoding and
  folding in its own worker process (`projections.reading.store_worker`);
- one process per projection, at once: every process reads the stream, each with its worker.

Figures: wall time for all of them (process start-up included), each one's events/s (from its
first fetch to its last commit), peak resident memory (VmHWM, process and workers), and the CPU
time per event of every process involved (readers, workers, nats-server): the work a rebuild
is, whatever the machine. The 10-million extrapolation takes the faster way, and so does the
CPU it needs: on a machine with fewer cores than that CPU time over 10 minutes, the target
cannot be met by running more at once. National targets: ~10 million events in under 10
minutes, under 2 GiB per projection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.projection_bus import projection_bus
from bench.projection_process import (
    ProcessResult,
    ProjectionProcess,
    catalogue,
    process_cpu_seconds,
)
from bench.report import BenchRun, Figure, verdict

GIB = 2**30
MIB = 2**20
RSS_TARGET = 2 * GIB
WALL_TARGET_SECONDS = 600
NATIONAL_TARGET_EVENTS = 10_000_000


@dataclass(frozen=True)
class Rebuild:
    how: str
    events: int
    wall_seconds: float
    results: list[ProcessResult]
    store_bytes: dict[str, int]
    """Each rebuilt SQLite store's size on disk (with its WAL), for sizing volumes."""
    server_cpu_seconds: float = 0.0
    """CPU time nats-server used meanwhile (answering the reads)."""

    @property
    def rate(self) -> float:
        """Events/s of the slowest projection: when every store has the whole history."""
        return min(r.rate for r in self.results)

    @property
    def cpu_per_event(self) -> float:
        """CPU seconds per event of every process involved: readers, store workers, server."""
        return (sum(r.cpu_seconds for r in self.results) + self.server_cpu_seconds) / self.events


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def server_cpu(server_pid: int | None) -> float:
    return 0.0 if server_pid is None else process_cpu_seconds(server_pid)


def rebuild_all(url: str, events: int, workdir: Path, names: Sequence[str] | None = None,
                timeout: float = 24 * 3600, server_pid: int | None = None) -> Rebuild:
    """Rebuild each projection into `workdir/<name>.sqlite` concurrently, one process each."""
    chosen = [p for p in catalogue() if names is None or p.name in names]
    stores = {p.name: workdir / f"projection-{p.name}.sqlite" for p in chosen}
    server_before, started = server_cpu(server_pid), time.perf_counter()
    children = [ProjectionProcess("rebuild", p.name, url, stores[p.name],
                                  workdir / f"rebuild-{p.name}.log", until=events)
                for p in chosen]
    try:
        results = [child.result(timeout) for child in children]
    finally:
        for child in children:
            child.kill()
    wall = time.perf_counter() - started
    for result in results:
        if result.position < events:
            raise RuntimeError(f"{result.projection} rebuilt to {result.position:,} of {events:,}")
    return Rebuild("one process per projection", events, wall, results,
                   {name: file_bytes(path) for name, path in stores.items()},
                   server_cpu(server_pid) - server_before)


def rebuild_together(url: str, events: int, workdir: Path, names: Sequence[str] | None = None,
                     timeout: float = 24 * 3600, server_pid: int | None = None) -> Rebuild:
    """Rebuild every projection with one process reading the stream once (`rebuild_all`)."""
    chosen = [p.name for p in catalogue() if names is None or p.name in names]
    server_before, started = server_cpu(server_pid), time.perf_counter()
    child = ProjectionProcess("rebuild", ",".join(chosen), url, workdir,
                              workdir / "rebuild-together.log", until=events)
    try:
        result = child.result(timeout)
    finally:
        child.kill()
    wall = time.perf_counter() - started
    if result.position < events:
        raise RuntimeError(f"{result.projection} rebuilt to {result.position:,} of {events:,}")
    return Rebuild("one reader for all", events, wall, [result],
                   {name: file_bytes(workdir / f"projection-{name}.sqlite") for name in chosen},
                   server_cpu(server_pid) - server_before)


def rebuild_figures(*rebuilds: Rebuild) -> list[Figure]:
    """Figures and verdicts of each way of rebuilding; the national wall-time target is scaled
    to ~10 million events at the faster way's rate, and so is the CPU it needs."""
    figures: list[Figure] = []
    for rebuild in rebuilds:
        figures += [
            Figure(f"{rebuild.how}: all projections rebuilt", rebuild.wall_seconds, "s wall",
                   note=f"{rebuild.events:,} events, every store in its worker process, "
                        "process start-up included"),
            Figure(f"{rebuild.how}: CPU per event", rebuild.cpu_per_event * 1e6, "µs",
                   note="user + system of the readers, the store workers and nats-server"),
        ]
        for result in rebuild.results:
            figures += [
                Figure(f"{rebuild.how}: {' + '.join(stores_of(result))} rebuild", result.rate,
                       "events/s",
                       versus="consume",
                       note=f"{result.applied:,} events in {result.seconds:.1f} s"),
                Figure(f"{rebuild.how}: {' + '.join(stores_of(result))} peak RSS",
                       result.peak_rss / MIB, "MiB",
                       note=f"VmHWM of the reading process and its store workers together, "
                            f"{rebuild.events:,} events"),
            ]
            figures += [
                Figure(f"{rebuild.how}: {process_label(result, part)} peak RSS", peak / MIB,
                       "MiB", note="batched direct gets, sealing keys" if part == "reader"
                       else "decoding, the fold and its memory of people, SQLite",
                       target=verdict(f"< {RSS_TARGET // GIB} GiB", peak < RSS_TARGET))
                for part, peak in result.peak_rss_parts.items()
            ]
        figures += [
            Figure(f"{rebuild.how}: {name} store on disk", size / rebuild.events, "B/event",
                   note=f"{size / MIB:,.0f} MiB SQLite")
            for name, size in rebuild.store_bytes.items()
        ]
    best = max(rebuilds, key=lambda r: r.rate)
    at_target = NATIONAL_TARGET_EVENTS / best.rate
    cpu_minutes = best.cpu_per_event * NATIONAL_TARGET_EVENTS / 60
    cores = os.cpu_count() or 1
    figures += [
        Figure("10 million events at this rate (extrapolated)", at_target / 60, "min",
               note=f"{best.how}, {best.rate:,.0f} events/s, assumed constant",
               target=verdict(f"10 M events < {WALL_TARGET_SECONDS // 60} min",
                              at_target < WALL_TARGET_SECONDS)),
        Figure("10 million events: CPU time needed", cpu_minutes, "core-min",
               note=f"{best.how}: at least {cpu_minutes / cores:,.1f} min on this machine's "
                    f"{cores} cores; {cpu_minutes * 60 / WALL_TARGET_SECONDS:,.1f} cores busy "
                    f"for {WALL_TARGET_SECONDS // 60} min"),
    ]
    return figures


def stores_of(result: ProcessResult) -> list[str]:
    return result.projection.split(",")


def process_label(result: ProcessResult, part: str) -> str:
    """`reader of A + B` for the reading process, `A store worker` for a worker."""
    if part == "reader":
        return f"reader of {' + '.join(stores_of(result))}"
    return f"{part} store worker"


def measure_rebuild(run: BenchRun) -> list[Figure]:
    bus = projection_bus(run)
    apart = rebuild_all(bus.url, bus.published, bus.workdir / "rebuilt",
                        server_pid=bus.server.pid)
    together = rebuild_together(bus.url, bus.published, bus.workdir / "rebuilt-together",
                                server_pid=bus.server.pid)
    return rebuild_figures(together, apart)
