"""The nats-server the projection benches share: the population's first events already published.

Projection ingest (c) catches each projection up on it, the latency bench (e) then publishes
more events at a steady rate while those caught-up runners are live, and the rebuild (d)
replays all of it into fresh stores. It is started once per run, on first use, and stopped by
its PID when the run ends (`BenchRun.cleanup`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nats

from bench.projection_process import ProjectionProcess
from bench.report import BenchRun
from bench.yardstick import DEFAULT_WINDOW, publish_all
from projections.reading.projection import Projection
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from sendx.demo.population import WireEvent

PROJECTION_EVENTS = {"tiny": None, "small": None, "partnership": 100_000, "national": 100_000}
"""Events the projection benches apply per scale (None: the whole population).

At partnership scale a projection applies ~1,500 events/s on this machine (see RESULTS.md), so
the whole 468k-event population, applied twice per projection (catch-up and rebuild), would take
~20 minutes; the suite applies its first 100,000 and `python -m bench.national` does full runs."""


@dataclass
class ProjectionBus:
    server: NatsServer
    workdir: Path
    published: int = 0
    live_stores: dict[str, Path] = field(default_factory=dict)
    """Stores the catch-up bench left at `published`, for the latency bench to keep live."""
    live_runners: dict[str, ProjectionProcess] = field(default_factory=dict)
    """The runners that caught them up, still running (live) for the latency bench."""

    @property
    def url(self) -> str:
        return self.server.url

    def publish(self, messages: Iterable[WireEvent]) -> int:
        """Publish (window 4,000, Nats-Msg-Id) and wait for every ack; returns the last seq."""
        self.published = asyncio.run(publish_to(self.url, messages))
        return self.published


async def publish_to(url: str, messages: Iterable[WireEvent]) -> int:
    nc = await nats.connect(url, name="bench-projection-publisher")
    try:
        js = nc.jetstream(publish_async_max_pending=DEFAULT_WINDOW)
        await ensure_streams(js)
        duplicates = await publish_all(js, messages)
        if duplicates:
            raise RuntimeError(f"{duplicates:,} events were already in the stream")
        return int((await js.stream_info(EVENTS_STREAM)).state.last_seq)
    finally:
        await nc.close()


LATENCY_RATE = 1_000
"""Events/s the latency bench publishes while the runners are live."""
LATENCY_SECONDS = {"tiny": 2, "small": 5, "partnership": 20, "national": 20}
"""Seconds of paced publishing per latency phase."""
LATENCY_PHASES = 2
"""The latency bench publishes twice: on the machine as it is, then with one core kept busy."""


def latency_events(run: BenchRun) -> int:
    """Events the latency bench publishes in each of its phases."""
    return min(LATENCY_RATE * LATENCY_SECONDS[run.scale],
               len(run.messages) // (2 * LATENCY_PHASES))


def projection_events(run: BenchRun) -> int:
    """How many events to publish up front: leaves the latency bench its own events after them."""
    available = len(run.messages) - LATENCY_PHASES * latency_events(run)
    limit = run.projection_events or PROJECTION_EVENTS[run.scale]
    return min(limit or available, available)


def projection_bus(run: BenchRun) -> ProjectionBus:
    """The run's shared server, started and filled with the first events on first use."""
    if run.projection_bus is None:
        workdir = run.workdir / "projections"
        server = NatsServer(store_dir=workdir / "nats").start()
        run.cleanup.callback(server.stop)
        bus = ProjectionBus(server, workdir)
        bus.publish(run.messages[:projection_events(run)])
        run.projection_bus = bus
    return run.projection_bus


def store_path(bus: ProjectionBus, projection: Projection, purpose: str) -> Path:
    return bus.workdir / purpose / f"projection-{projection.name}.sqlite"
