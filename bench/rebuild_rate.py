"""(d) Full rebuild of every projection from the stream, and (f) each process's peak memory.

Every projection in the catalogue is rebuilt from stream sequence 1 to the last event on the
server into fresh SQLite stores, in the two ways a deployment can do it:

- one process per projection, at once, each `projections.rebuild.rebuild` (ordered consumer,
  chunks of 10,000, the live runner's decoding): every process reads and decodes the stream,
  but each fold has a core of its own;
- one process for all (`projections.rebuild.rebuild_all`): the stream read and decoded once,
  every store fed from it, the folds sharing one GIL.

Figures: wall time for all of them (process start-up included), each one's events/s (from its
first fetch to its last commit) and peak resident memory (VmHWM). The 10-million extrapolation
takes the faster way. National targets: ~10 million events in under 10 minutes, under 2 GiB.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.projection_bus import projection_bus
from bench.projection_process import ProcessResult, ProjectionProcess, catalogue
from bench.report import BenchRun, Figure, verdict

GIB = 2**30
MIB = 2**20
RSS_TARGET = 2 * GIB
WALL_TARGET_SECONDS = 600
NATIONAL_TARGET_EVENTS = 10_000_000


@dataclass(frozen=True)
class Rebuild:
    events: int
    wall_seconds: float
    results: list[ProcessResult]
    store_bytes: dict[str, int]
    """Each rebuilt SQLite store's size on disk (with its WAL), for sizing volumes."""


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def rebuild_all(url: str, events: int, workdir: Path, names: Sequence[str] | None = None,
                timeout: float = 24 * 3600) -> Rebuild:
    """Rebuild each projection into `workdir/<name>.sqlite` concurrently, one process each."""
    chosen = [p for p in catalogue() if names is None or p.name in names]
    stores = {p.name: workdir / f"projection-{p.name}.sqlite" for p in chosen}
    started = time.perf_counter()
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
    return Rebuild(events, wall, results,
                   {name: file_bytes(path) for name, path in stores.items()})


def rebuild_together(url: str, events: int, workdir: Path, names: Sequence[str] | None = None,
                     timeout: float = 24 * 3600) -> Rebuild:
    """Rebuild every projection in one process that reads the stream once (`rebuild_all`)."""
    chosen = [p.name for p in catalogue() if names is None or p.name in names]
    started = time.perf_counter()
    child = ProjectionProcess("rebuild", ",".join(chosen), url, workdir,
                              workdir / "rebuild-together.log", until=events)
    try:
        result = child.result(timeout)
    finally:
        child.kill()
    wall = time.perf_counter() - started
    if result.position < events:
        raise RuntimeError(f"{result.projection} rebuilt to {result.position:,} of {events:,}")
    return Rebuild(events, wall, [result],
                   {name: file_bytes(workdir / f"projection-{name}.sqlite") for name in chosen})


def rebuild_figures(rebuild: Rebuild, together: Rebuild | None = None) -> list[Figure]:
    """Figures and verdicts; the national wall-time target is scaled to ~10 million events.

    `together`: the same rebuild by one process reading the stream once (`rebuild_together`)."""
    slowest = min(r.rate for r in rebuild.results)
    best, how = slowest, "one process per projection: slowest"
    if together is not None and together.results[0].rate > slowest:
        best, how = together.results[0].rate, "one process for all"
    at_target = NATIONAL_TARGET_EVENTS / best
    figures = [
        Figure("all projections rebuilt", rebuild.wall_seconds, "s wall",
               note=f"{rebuild.events:,} events, {len(rebuild.results)} projections at once, "
                    "one process each, process start-up included"),
    ]
    if together is not None:
        result = together.results[0]
        figures += [
            Figure("all projections rebuilt, one process for all", together.wall_seconds,
                   "s wall", note=f"{together.events:,} events read and decoded once, "
                                  "process start-up included"),
            Figure("one process for all: rebuild", result.rate, "events/s", versus="consume",
                   note=f"{result.projection}: {result.applied:,} events in "
                        f"{result.seconds:.1f} s, peak RSS {result.peak_rss / MIB:,.0f} MiB"),
        ]
    figures.append(
        Figure("10 million events at this rate (extrapolated)", at_target / 60, "min",
               note=f"{how} {best:,.0f} events/s, assumed constant",
               target=verdict(f"10 M events < {WALL_TARGET_SECONDS // 60} min",
                              at_target < WALL_TARGET_SECONDS)),
    )
    for result in rebuild.results:
        figures += [
            Figure(f"{result.projection}: rebuild", result.rate, "events/s", versus="consume",
                   note=f"{result.applied:,} events in {result.seconds:.1f} s"),
            Figure(f"{result.projection}: rebuild peak RSS", result.peak_rss / MIB, "MiB",
                   note=f"VmHWM of the process, {rebuild.events:,} events",
                   target=verdict(f"< {RSS_TARGET // GIB} GiB", result.peak_rss < RSS_TARGET)),
            Figure(f"{result.projection}: store on disk",
                   rebuild.store_bytes[result.projection] / rebuild.events, "B/event",
                   note=f"{rebuild.store_bytes[result.projection] / MIB:,.0f} MiB SQLite"),
        ]
    return figures


def measure_rebuild(run: BenchRun) -> list[Figure]:
    bus = projection_bus(run)
    apart = rebuild_all(bus.url, bus.published, bus.workdir / "rebuilt")
    together = rebuild_together(bus.url, bus.published, bus.workdir / "rebuilt-together")
    return rebuild_figures(apart, together)

