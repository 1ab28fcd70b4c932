"""Per-partner feeds: throughput as a ratio of raw consume, and publish-to-delivered latency.

    python -m bench.feeds [tiny|small|partnership]

(a) raw consume: plain nats-py pulling and acking the population's events from SEND_EVENTS
    (`bench.yardstick.consume_all`), the same run, the same server;
(b) feed throughput: the feed process (`projections.feeds`: the shared runner, the cohort fold
    and its SQLite store, the publisher) from an empty store to every event folded and every
    delivery acknowledged by SEND_FEEDS, under the shipped demo agreement and under a wide one
    (the ICB receives every LA event about everyone: a delivery for about half the events);
    printed as events/s and as a ratio of (a) (target >= 0.5);
(c) latency: with the feed process live and caught up, the next events are published at a
    steady 1,000 events/s; a core subscriber on `send.feed.>` notes when each delivery arrives;
    latency = arrival - the moment its event was handed to `publish_async` (p50, p99; target
    p99 < 250 ms), under the wide agreement, so most events are delivered.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import nats
from nats.aio.msg import Msg

from bench.yardstick import consume_all, publish_all
from contracts.agreements import Agreement, parse_agreement
from contracts.feeds import ALL_FEEDS, MSG_ID_HEADER
from projections.feeds.process import DEFAULT_AGREEMENT, start_feeds
from projections.feeds.store import FeedStore
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from sendx.demo.population import WireEvent, generate_wire

RATE = 1_000
TICK = 0.01
LATENCY_SECONDS = {"tiny": 3, "small": 10, "partnership": 20}
WIDE = """
[agreement]
id = "bench-wide"
title = "every LA event to the ICB"

[[clause]]
id = "icb-everything"
recipient = "QK1"
sources = ["la"]
events = ["person.registered", "ehc.assessment_requested", "ehc.assessment_decided",
  "ehc.advice_requested", "ehc.plan_issued", "ehc.plan_not_issued", "ehc.annual_review_held",
  "ehc.review_outcome", "ehc.plan_amended", "ehc.plan_ceased", "transition.plan_agreed",
  "ap.placement_commissioned"]
cohort = "everyone"
purpose = "benchmark: every LA event delivered"
lawful_basis = ["UK GDPR Art. 6(1)(e)"]
retention = "none"
"""


async def feed_throughput(url: str, agreement: Agreement, store_path: Path) -> tuple[float, int]:
    """(seconds, deliveries) for the feed process to fold the whole stream and publish."""
    nc = await nats.connect(url, name="bench-feeds")
    store = FeedStore(store_path)
    try:
        process, _ = await start_feeds(nc, store, agreement, backfill="benchmark")
        last = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        started = time.perf_counter()
        task = asyncio.create_task(process.run())
        while not await asyncio.to_thread(caught_up, store, last):
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        process.stop()
        await task
        return seconds, len(store.deliveries())
    finally:
        store.close()
        await nc.close()


async def latency(url: str, agreement: Agreement, store_path: Path,
                  paced: Sequence[WireEvent]) -> list[float]:
    """Milliseconds from publish to delivery, for each delivery of the paced events."""
    nc = await nats.connect(url, name="bench-feeds-live")
    watcher = await nats.connect(url, name="bench-feeds-watch")
    store = FeedStore(store_path)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}

    async def on_delivery(msg: Msg) -> None:
        event_id = (msg.headers or {})[MSG_ID_HEADER].split(".", 1)[1]
        arrived.setdefault(event_id, time.perf_counter())

    try:
        await watcher.subscribe(ALL_FEEDS, cb=on_delivery)
        await watcher.flush()
        process, _ = await start_feeds(nc, store, agreement)
        task = asyncio.create_task(process.run())
        js = nc.jetstream()
        start = time.perf_counter()
        per_tick = int(RATE * TICK)
        for i in range(0, len(paced), per_tick):
            await asyncio.sleep(max(0.0, start + (i / RATE) - time.perf_counter()))
            for subject, msg_id, data in paced[i:i + per_tick]:
                sent[msg_id] = time.perf_counter()
                await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
        await js.publish_async_completed()
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        deadline = time.perf_counter() + 60
        while (time.perf_counter() < deadline
               and not await asyncio.to_thread(caught_up, store, last)):
            await asyncio.sleep(0.05)
        expected = {d.event_id for d in await asyncio.to_thread(store.deliveries)} & sent.keys()
        while time.perf_counter() < deadline and not expected <= arrived.keys():
            await asyncio.sleep(0.05)
        process.stop()
        await task
        return [(arrived[e] - sent[e]) * 1000 for e in expected if e in arrived]
    finally:
        store.close()
        await nc.close()
        await watcher.close()


def caught_up(store: FeedStore, last: int) -> bool:
    """Every event up to `last` folded and every delivery acknowledged. Asked from a thread:
    the store's lock is held through each commit, and the bench must not stall the event loop
    the feed process runs on (it did, before 2026-12-03, adding to both figures)."""
    return store.position() >= last and not store.pending(1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def bench(url: str, scale: str, workdir: Path) -> str:
    messages = list(generate_wire(scale, 1))
    paced_count = RATE * LATENCY_SECONDS[scale]
    history, paced = messages[:-paced_count], messages[-paced_count:]
    nc = await nats.connect(url, name="bench-raw")
    js = nc.jetstream()
    await ensure_streams(js)
    await publish_all(js, history)
    started = time.perf_counter()
    received = await consume_all(js, len(history), 1_000)
    raw = received / (time.perf_counter() - started)
    await nc.close()
    demo = parse_agreement(DEFAULT_AGREEMENT.read_text())
    wide = parse_agreement(WIDE)
    rows = [f"scale {scale}: {len(history):,} events in the history, raw consume {raw:,.0f}/s",
            "| agreement | deliveries | feed events/s | ratio to raw consume (target >= 0.5) |",
            "|---|---:|---:|---:|"]
    for name, agreement in (("demo", demo), ("wide", wide)):
        seconds, deliveries = await feed_throughput(url, agreement, workdir / f"{name}.sqlite")
        rate = len(history) / seconds
        rows.append(f"| {name} | {deliveries:,} | {rate:,.0f} | {rate / raw:.2f}x |")
    # the wide store is caught up: the paced events are the live ones
    delays = await latency(url, wide, workdir / "wide.sqlite", paced)
    rows.append(
        f"publish-to-delivered at {RATE:,} events/s over {len(paced):,} events, "
        f"{len(delays):,} deliveries: p50 {statistics.median(delays):.0f} ms, "
        f"p99 {percentile(delays, 99):.0f} ms (target p99 < 250 ms)"
    )
    return "\n".join(rows)


def main(scale: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sendx-bench-feeds-") as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        try:
            print(asyncio.run(bench(server.url, scale, Path(tmp))))
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "small")
