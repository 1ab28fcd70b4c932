"""(e) Publish-to-visible latency at a steady 1,000 events/s, p50 and p99 (target p99 < 100 ms).

Every projection's runner is live in its own process: the one that caught up its store in the
ingest bench (so the read model already holds history and the runner is warm, as in
production), and so is a runner on the
position-only store (the runner's own share of the latency: fetch, decode, commit, ack). The
bench then publishes the population's next events at a fixed pace and, in a thread, polls each
store's committed position (`store.position()`, the same read the query API makes) every 5 ms.
An event is visible in a projection at the first poll that sees a position at or beyond its
stream sequence; its latency is that moment minus the moment it was handed to `publish_async`, so it
includes the publish, JetStream storage, the pull, the fold and the commit.

It measures twice with the same live runners: first on the machine as it is (`quiet`), then
while a second process the bench starts itself keeps one core busy (a Python busy loop, as
`tests/under_load.sh` runs; stopped by its PID afterwards, whatever happens). The target is
the loaded p99 (issue #20: a projector shares its cores in production); the quiet one is
judged too, and each figure is printed beside its loaded twin. Last, each live runner's CPU per
event by phase over both phases (`bench.projection_ingest.cpu_figures`): at 1,000 events/s,
what share of a core each one needs, and where it goes.
"""

from __future__ import annotations

import asyncio
import bisect
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import nats

from bench.projection_bus import LATENCY_RATE, latency_events, projection_bus
from bench.projection_ingest import cpu_figures
from bench.projection_process import (
    POSITION_ONLY,
    ProcessResult,
    ProjectionProcess,
    process_cpu_seconds,
    projection_named,
)
from bench.report import BenchRun, Figure, verdict
from bench.yardstick import DEFAULT_WINDOW
from projections.reading.projection import ProjectionStore
from sendx.demo.population import WireEvent

POLL_INTERVAL = 0.005
P99_TARGET_MS = 100.0
DRAIN_TIMEOUT = 120.0
"""How long after the last publish to wait for every projection to show every event."""
SETTLE = 1.0
"""Seconds before each phase: the runners bind their consumers, the burner gets its core."""
LOADED = ", one core busy"
"""Suffix of the loaded phase's figures (the quiet ones keep the plain names)."""


@dataclass
class PositionWatch:
    """Polls each store's committed position in a thread: (when seen, position) per change."""

    stores: dict[str, ProjectionStore]
    seen: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PositionWatch:
        self.seen = {name: [(time.perf_counter(), store.position())]
                     for name, store in self.stores.items()}
        self._thread = threading.Thread(target=self._poll, name="position-watch", daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(POLL_INTERVAL):
            for name, store in self.stores.items():
                position = store.position()
                if position > self.seen[name][-1][1]:
                    self.seen[name].append((time.perf_counter(), position))

    def position(self, name: str) -> int:
        return self.seen[name][-1][1]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


async def paced_publish(url: str, messages: Sequence[WireEvent],
                        rate: float) -> list[tuple[float, int]]:
    """Publish at `rate` events/s; (moment handed to publish_async, stream seq) per event."""
    nc = await nats.connect(url, name="bench-latency-publisher")
    try:
        js = nc.jetstream(publish_async_max_pending=DEFAULT_WINDOW)
        sent: list[float] = []
        futures = []
        start = time.perf_counter()
        for index, (subject, msg_id, data) in enumerate(messages):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(time.perf_counter())
            futures.append(await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id}))
        acks = await asyncio.gather(*futures)
    finally:
        await nc.close()
    return [(moment, ack.seq) for moment, ack in zip(sent, acks, strict=True)]


def latencies(published: list[tuple[float, int]], seen: list[tuple[float, int]]) -> list[float]:
    """Seconds from publish to the first poll showing each event; events never seen are left out."""
    positions = [position for _, position in seen]
    out = []
    for sent, seq in published:
        index = bisect.bisect_left(positions, seq)
        if index < len(seen):
            out.append(seen[index][0] - sent)
    return out


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_until_visible(watch: PositionWatch, last: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(watch.position(name) >= last for name in watch.stores):
            return
        time.sleep(0.05)


@dataclass(frozen=True)
class Phase:
    """One paced publish and what each store showed of it."""

    published: list[tuple[float, int]]
    seen: dict[str, list[tuple[float, int]]]
    burner_share: float | None = None
    """Cores the busy loop used over the phase (None: no load was started)."""

    @property
    def pace(self) -> float:
        return len(self.published) / (self.published[-1][0] - self.published[0][0])


@contextmanager
def one_core_busy() -> Iterator[subprocess.Popen[bytes]]:
    """A second process spinning on one core until the block ends; stopped by its PID."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield burner
    finally:
        burner.kill()
        burner.wait()


def measure_phase(url: str, stores: dict[str, ProjectionStore],
                  messages: Sequence[WireEvent]) -> Phase:
    """Publish `messages` at `LATENCY_RATE` and wait until every store shows the last one."""
    watch = PositionWatch(stores).start()
    time.sleep(SETTLE)
    try:
        published = asyncio.run(paced_publish(url, messages, LATENCY_RATE))
        wait_until_visible(watch, published[-1][1], DRAIN_TIMEOUT)
    finally:
        watch.stop()
    return Phase(published, watch.seen)


def measure_loaded_phase(url: str, stores: dict[str, ProjectionStore],
                         messages: Sequence[WireEvent]) -> Phase:
    with one_core_busy() as burner:
        started = time.perf_counter()
        phase = measure_phase(url, stores, messages)
        share = process_cpu_seconds(burner.pid) / (time.perf_counter() - started)
    return Phase(phase.published, phase.seen, share)


def measure_latency(run: BenchRun) -> list[Figure]:
    bus = projection_bus(run)
    if not bus.live_stores:
        raise RuntimeError("the latency bench needs the stores the projection ingest bench left")
    start, count = bus.published, latency_events(run)
    quiet_messages = run.messages[start:start + count]
    loaded_messages = run.messages[start + count:start + 2 * count]
    stores = {name: projection_named(name).open_store(path)
              for name, path in bus.live_stores.items()}
    children = {name: bus.live_runners.pop(name, None) for name in bus.live_stores}
    for name, child in children.items():
        if child is None:  # no runner left live by the ingest bench: start one
            children[name] = child = ProjectionProcess(
                "live", name, bus.url, bus.live_stores[name], bus.workdir / f"live-{name}.log")
            child.wait_ready()
    try:
        quiet = measure_phase(bus.url, stores, quiet_messages)
        loaded = measure_loaded_phase(bus.url, stores, loaded_messages)
        results = {name: child.stop() for name, child in children.items()}
    finally:
        for child in children.values():
            child.kill()
        for store in stores.values():
            store.close()
    bus.published = loaded.published[-1][1]
    figures = [
        Figure("publish pace", quiet.pace, "events/s",
               note=f"{len(quiet.published):,} events asked at {LATENCY_RATE:,}/s"),
        Figure(f"publish pace{LOADED}", loaded.pace, "events/s",
               note=f"{len(loaded.published):,} more; a busy loop used "
                    f"{loaded.burner_share or 0:.2f} of a core meanwhile"),
    ]
    for name in stores:
        figures += latency_figures(name, quiet, loaded, results[name])
    for name in stores:
        figures += cpu_figures(name, results[name], None, label="live runner")
    return figures


def latency_figures(name: str, quiet: Phase, loaded: Phase,
                    result: ProcessResult) -> list[Figure]:
    """p50, p99 and max of one store, each quiet then loaded; p99 judged unless position-only
    (the bus side alone: a yardstick, not a read model)."""
    judged = name != POSITION_ONLY.name
    by_phase = []
    for phase, suffix in ((quiet, ""), (loaded, LOADED)):
        values = latencies(phase.published, phase.seen[name])
        missing = len(phase.published) - len(values)
        by_phase.append((suffix, values, missing, f"p99 < {P99_TARGET_MS:.0f} ms{suffix}"))
    figures = []
    for suffix, values, _, target in by_phase:
        if not values:
            figures.append(Figure(f"{name}: visible{suffix}", 0, "events",
                                  target=verdict(target, False),
                                  note=f"none within {DRAIN_TIMEOUT:.0f} s"))
    by_phase = [entry for entry in by_phase if entry[1]]
    for suffix, values, _, _ in by_phase:
        figures.append(Figure(f"{name}: latency p50{suffix}", percentile(values, 0.5) * 1000,
                              "ms"))
    for suffix, values, missing, target in by_phase:
        p99 = percentile(values, 0.99) * 1000
        figures.append(Figure(
            f"{name}: latency p99{suffix}", p99, "ms",
            target=verdict(target, p99 < P99_TARGET_MS and not missing) if judged else None,
            note=f"{missing:,} events not visible after {DRAIN_TIMEOUT:.0f} s" if missing else ""))
    for suffix, values, _, _ in by_phase:
        figures.append(Figure(
            f"{name}: latency max{suffix}", max(values) * 1000, "ms",
            note=f"live runner applied {result.applied:,} events in both phases"
                 if suffix else ""))
    return figures
