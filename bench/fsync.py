"""(h) What `sync_interval: always` costs: JetStream publish rate against the default (2 min).

The same events, published to two fresh nats-servers started one after the other:
`deploy/nats/embedded.conf` (fsync on a 2-minute timer) and `deploy/nats/embedded-sync-always
.conf` (fsync before every ack), as `deploy/nats/DURABILITY.md` describes, in the three ways a
publisher can: the yardstick's window of 4,000 unacknowledged `publish_async`, a relay-like 50
in flight, and `js.publish` one at a time (await each ack). Every event is checked stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import nats

from bench.report import BenchRun, Figure
from bench.yardstick import DEFAULT_WINDOW, publish_all
from runtime.bus.nats_server import EMBEDDED_CONFIG, EMBEDDED_SYNC_ALWAYS_CONFIG, NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from sendx.demo.population import WireEvent

MODES: tuple[tuple[str, int, int], ...] = (
    (f"window {DEFAULT_WINDOW:,}", DEFAULT_WINDOW, 10_000),
    ("50 in flight", 50, 5_000),
    ("one at a time", 1, 1_000),
)
"""(name, unacknowledged publishes allowed, events) per way of publishing."""


async def publish_rates(url: str, samples: Sequence[Sequence[WireEvent]]) -> list[float]:
    """Events/s of each mode in MODES, on one server, in order; every event must be stored."""
    nc = await nats.connect(url, name="bench-fsync")
    rates = []
    try:
        await ensure_streams(nc.jetstream())
        for (_, window, _), sample in zip(MODES, samples, strict=True):
            js = nc.jetstream(publish_async_max_pending=window)
            started = time.perf_counter()
            if window == 1:
                for subject, msg_id, data in sample:
                    await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
            else:
                await publish_all(js, sample)
            rates.append(len(sample) / (time.perf_counter() - started))
        stored = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.messages
    finally:
        await nc.close()
    expected = sum(len(sample) for sample in samples)
    if stored != expected:
        raise RuntimeError(f"stored {stored:,} of {expected:,} events")
    return rates


def rates_with(config: Path, store_dir: Path,
               samples: Sequence[Sequence[WireEvent]]) -> list[float]:
    with NatsServer(store_dir=store_dir, config=config) as server:
        return asyncio.run(publish_rates(server.url, samples))


def samples_of(messages: Sequence[WireEvent]) -> list[Sequence[WireEvent]]:
    """Consecutive, disjoint slices of the population, one per mode (shrunk to fit tiny runs)."""
    wanted = sum(count for _, _, count in MODES)
    shrink = min(1.0, len(messages) / wanted)
    out, start = [], 0
    for _, _, count in MODES:
        size = max(1, int(count * shrink))
        out.append(messages[start:start + size])
        start += size
    return out


def measure_fsync(run: BenchRun) -> list[Figure]:
    samples = samples_of(run.messages)
    lazy = rates_with(EMBEDDED_CONFIG, run.workdir / "fsync-default", samples)
    durable = rates_with(EMBEDDED_SYNC_ALWAYS_CONFIG, run.workdir / "fsync-always", samples)
    figures = []
    for (name, _, _), sample, default, always in zip(MODES, samples, lazy, durable, strict=True):
        figures += [
            Figure(f"{name}, sync 2m (default)", default, "events/s", versus="publish",
                   note=f"{len(sample):,} events"),
            Figure(f"{name}, sync always", always, "events/s", versus="publish",
                   note=f"{len(sample):,} events; {always / default:.2f}x the default"),
        ]
    return figures
