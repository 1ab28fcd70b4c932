"""The raw-bus baseline: how fast plain nats-py moves our events through JetStream on this machine.

Every other benchmark (relay, projection ingest, rebuild, latency) is printed as a ratio against
these figures measured in the same run, because on a shared, noisy machine only ratios travel.

    (a) publish: `js.publish_async` of N pre-encoded events, each with `Nats-Msg-Id` = event id,
        at most `window` unacknowledged at once (nats-py's pending semaphore), then every ack.
    (b) consume: one durable pull consumer over the same N, `fetch(batch)`, explicit ack of
        each message (what a projection runner does), until all N are acknowledged.
    (c) size: stream bytes / messages as the server accounts them (subject, headers, body),
        for sizing `SENDX_EVENTS_MAX_BYTES` and disks.

It starts its own nats-server (the project's `NatsServer`, a temporary store) and the project's
streams (`ensure_streams`), so the figures include file storage and the 24 h duplicate window.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.subjects import ALL_EVENTS
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from sendx.demo.population import WireEvent

DEFAULT_WINDOW = 4_000  # nats-py default publish_async_max_pending
DEFAULT_BATCH = 1_000


@dataclass(frozen=True)
class Yardstick:
    events: int
    publish_seconds: float
    consume_seconds: float
    stream_messages: int
    stream_bytes: int
    body_bytes: int
    duplicates: int
    window: int
    batch: int

    @property
    def publish_rate(self) -> float:
        return self.events / self.publish_seconds

    @property
    def consume_rate(self) -> float:
        return self.events / self.consume_seconds

    @property
    def bytes_per_event(self) -> float:
        return self.stream_bytes / max(self.stream_messages, 1)

    @property
    def body_bytes_per_event(self) -> float:
        return self.body_bytes / max(self.events, 1)

    def rate(self, versus: str) -> float:
        """The baseline rate a measurement compares itself with: "publish" or "consume"."""
        return {"publish": self.publish_rate, "consume": self.consume_rate}[versus]

    def table(self) -> str:
        rows = [
            ("raw publish_async", f"{self.publish_rate:,.0f} events/s",
             f"{self.events:,} in {self.publish_seconds:.2f} s, window {self.window}"),
            ("raw pull consume + ack", f"{self.consume_rate:,.0f} events/s",
             f"{self.events:,} in {self.consume_seconds:.2f} s, fetch batch {self.batch}"),
            ("stream bytes / event", f"{self.bytes_per_event:,.0f} B",
             f"{self.stream_bytes / 2**20:,.1f} MiB for {self.stream_messages:,} messages; "
             f"body {self.body_bytes_per_event:,.0f} B"),
        ]
        return "\n".join(f"{a:<24} {b:>18}   {c}" for a, b, c in rows)


async def publish_all(js: nats.js.JetStreamContext, messages: Iterable[WireEvent]) -> int:
    """Publish every message with its Nats-Msg-Id; returns how many the server called duplicates."""
    failures: list[BaseException] = []
    duplicates = 0

    def settled(future: asyncio.Future) -> None:
        nonlocal duplicates
        if future.exception() is not None:
            failures.append(future.exception())
        elif future.result().duplicate:
            duplicates += 1

    for subject, msg_id, data in messages:
        future = await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
        future.add_done_callback(settled)
    await js.publish_async_completed()
    if failures:
        raise RuntimeError(f"{len(failures)} publishes failed, first: {failures[0]!r}")
    return duplicates


async def consume_all(js: nats.js.JetStreamContext, expected: int, batch: int) -> int:
    """Pull every message through one durable consumer, acking each; returns how many arrived."""
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                            max_ack_pending=max(4 * batch, 1_000))
    sub = await js.pull_subscribe(ALL_EVENTS, durable="yardstick", stream=EVENTS_STREAM,
                                  config=config)
    received = 0
    while received < expected:
        try:
            msgs = await sub.fetch(min(batch, expected - received), timeout=10)
        except nats.errors.TimeoutError:
            break
        for msg in msgs:
            await msg.ack()
        received += len(msgs)
    await sub.unsubscribe()
    return received


async def measure(url: str, messages: Sequence[WireEvent], *, window: int = DEFAULT_WINDOW,
                  batch: int = DEFAULT_BATCH) -> Yardstick:
    """Measure against a running server whose SEND_EVENTS stream is empty."""
    nc = await nats.connect(url, name="bench-yardstick")
    try:
        js = nc.jetstream(publish_async_max_pending=window)
        await ensure_streams(js)
        started = time.perf_counter()
        duplicates = await publish_all(js, messages)
        publish_seconds = time.perf_counter() - started
        state = (await js.stream_info(EVENTS_STREAM)).state
        started = time.perf_counter()
        received = await consume_all(js, len(messages), batch)
        await nc.flush()
        consume_seconds = time.perf_counter() - started
        if received != len(messages):
            raise RuntimeError(f"consumed {received:,} of {len(messages):,} messages")
        return Yardstick(
            events=len(messages), publish_seconds=publish_seconds, consume_seconds=consume_seconds,
            stream_messages=state.messages, stream_bytes=state.bytes,
            body_bytes=sum(len(m.data) for m in messages), duplicates=duplicates,
            window=window, batch=batch,
        )
    finally:
        await nc.close()


def run_yardstick(messages: Sequence[WireEvent], *, workdir: Path | None = None,
                  window: int = DEFAULT_WINDOW, batch: int = DEFAULT_BATCH) -> Yardstick:
    """Start a fresh nats-server in a temporary store, measure, stop it (by its PID)."""
    with tempfile.TemporaryDirectory(prefix="sendx-yardstick-", dir=workdir) as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        try:
            return asyncio.run(measure(server.url, messages, window=window, batch=batch))
        finally:
            server.stop()


if __name__ == "__main__":
    import sys

    from sendx.demo.population import generate_wire

    scale = sys.argv[1] if len(sys.argv) > 1 else "small"
    print(run_yardstick(list(generate_wire(scale, 1))).table())
