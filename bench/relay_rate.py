"""(b) How fast the relay drains an LA's store to JetStream, as a ratio of raw `publish_async`.

The LA store is pre-filled (batched saves, `bench.la_store`) and closed; then a fresh LA
application opens it, as a restarted service would, and the real `services.sharing.relay.Relay` (LA
translator, topology checks, hash chain, checkpoint after each acknowledged batch) publishes
everything to a fresh nats-server. Timed from the first notification read to the last
checkpoint written; every published event is checked to be in the stream.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import nats

from bench.la_store import LA_856, FilledStore, fill_la_store, la_extract_rows
from bench.report import BenchRun, Figure
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from runtime.settings import DEMO_PARTNERSHIP_KEY
from runtime.store import store_env
from services.la.service import LA_SERVICE
from services.sharing.relay import Relay

RELAY_CHILDREN = {"tiny": 400, "small": 2_000, "partnership": 10_000, "national": 10_000}
"""Synthetic demo children; about 46% belong to LA 856 and give ~11.5 events each."""
RELAY_BATCHES = (500, 2_000)
"""The service's default `batch_size`, and a larger one: the relay prepares the next batch while
up to `in_flight` (default 2) batches await their acks, so the batch still bounds how much is
in flight."""


@dataclass(frozen=True)
class RelayDrain:
    published: int
    seconds: float
    stream_messages: int

    @property
    def rate(self) -> float:
        return self.published / self.seconds


async def drain(url: str, filled: FilledStore, batch_size: int) -> RelayDrain:
    app = LA_SERVICE.application(filled.org, store_env(filled.org, sqlite_path=filled.path))
    nc = await nats.connect(url, name="bench-relay")
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        translate = LA_SERVICE.translator(app, DEMO_PARTNERSHIP_KEY.encode())
        relay = Relay(app, filled.org, translate, js, batch_size=batch_size)
        started = time.perf_counter()
        published = await relay.publish_pending()
        seconds = time.perf_counter() - started
        stored = (await js.stream_info(EVENTS_STREAM)).state.messages
    finally:
        await nc.close()
        app.factory.close()
    if stored != published or published == 0:
        raise RuntimeError(f"relay published {published:,} events but the stream holds {stored:,}")
    return RelayDrain(published, seconds, stored)


def run_relay(filled: FilledStore, workdir: Path, batch_size: int = RELAY_BATCHES[0]
              ) -> RelayDrain:
    """A fresh nats-server (stopped by its PID afterwards) and one relay drain into it, from a
    copy of the store (the relay's checkpoint lives in the store, so each drain needs its own)."""
    copy = workdir / f"{filled.path.stem}-batch-{batch_size}.sqlite"
    shutil.copyfile(filled.path, copy)
    with NatsServer(store_dir=workdir / f"nats-relay-{batch_size}") as server:
        return asyncio.run(drain(server.url, replace(filled, path=copy), batch_size))


def measure_relay(run: BenchRun) -> list[Figure]:
    rows = la_extract_rows(LA_856, RELAY_CHILDREN[run.scale])
    filled = fill_la_store(run.workdir / "relay" / "la-856.sqlite", rows)
    figures = [Figure("LA store pre-filled", filled.events, "events",
                      note=f"{filled.rows:,} demo rows of LA 856, batched app.save: "
                           f"{filled.events_per_second:,.0f} events/s")]
    for batch in RELAY_BATCHES:
        result = run_relay(filled, run.workdir / "relay", batch)
        default = " (the default)" if batch == RELAY_BATCHES[0] else ""
        figures.append(Figure(
            f"relay publish, batch {batch:,}{default}", result.rate, "events/s",
            versus="publish", note=f"{result.published:,} in {result.seconds:.1f} s; translate, "
                                   "seal, chain, publish, checkpoint"))
    return figures
