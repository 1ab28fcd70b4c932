"""(b) How fast the relay drains an LA's store to JetStream, as a ratio of raw `publish_async`.

The LA store is pre-filled (batched saves, `bench.la_store`) and closed; then a fresh LA
application opens it, as a restarted service would, and the real `services.sharing.relay.Relay` (LA
translator, topology checks, hash chain, checkpoint after each acknowledged batch) publishes
everything to a fresh nats-server. Timed from the first notification read to the last
checkpoint written; every published event is checked to be in the stream.

Then where the CPU goes: a second drain, from another copy into another fresh server, runs the
relay's own steps one after another (no pipelining, so nothing overlaps) and charges this
process's CPU time (`time.process_time`; nats-server's is not included) to each phase: read
(the notification log), decode (stored event -> domain event), translate (contract envelope and
topology check), keys (the key store: every person in the bench store is new, so each costs
creating their key, two round trips, once), seal (AES-GCM of the personal fields), chain
(prev_hash and encoding), publish (`publish_async` and its acknowledgements, what the raw
yardstick does) and checkpoint. The publish phase is the floor: the relay can approach the raw
rate only as the others shrink.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.la_store import LA_856, FilledStore, fill_la_store, la_extract_rows
from bench.phase_clock import PhaseClock
from bench.report import BenchRun, Figure
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from runtime.settings import DEMO_PARTNERSHIP_KEY
from runtime.store import store_env
from services.la.service import LA_SERVICE
from services.sharing.checkpoint import Position
from services.sharing.relay import Relay

RELAY_CHILDREN = {"tiny": 400, "small": 2_000, "partnership": 10_000, "national": 10_000}
"""Synthetic demo children; about 46% belong to LA 856 and give ~11.5 events each."""
RELAY_BATCHES = (500, 2_000)
"""The service's default `batch_size`, and a larger one: the relay prepares the next batch while
up to `in_flight` (default 2) batches await their acks, so the batch still bounds how much is
in flight."""


PHASES = ("read", "decode", "translate", "keys", "seal", "chain", "publish", "checkpoint")
"""The relay's steps for one batch, in order (the module docstring says what each covers)."""


@dataclass(frozen=True)
class RelayDrain:
    published: int
    seconds: float
    stream_messages: int
    cpu_seconds: float = 0.0
    """This process's CPU time over the drain (the relay's threads included)."""

    @property
    def rate(self) -> float:
        return self.published / self.seconds

    @property
    def cpu_per_event(self) -> float:
        """Microseconds of CPU per published event."""
        return self.cpu_seconds / self.published * 1e6


@dataclass(frozen=True)
class RelayPhases:
    published: int
    seconds: dict[str, float]
    """CPU seconds by phase; decode and keys are not counted again in translate and seal."""

    def per_event(self, phase: str) -> float:
        """Microseconds of CPU per published event spent in `phase`."""
        return self.seconds[phase] / self.published * 1e6

    @property
    def total(self) -> float:
        return sum(self.per_event(p) for p in PHASES)


async def drain(url: str, filled: FilledStore, batch_size: int) -> RelayDrain:
    app = LA_SERVICE.application(filled.org, store_env(filled.org, sqlite_path=filled.path))
    nc = await connect_bus(url, name="bench-relay")
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        translate = LA_SERVICE.translator(app, DEMO_PARTNERSHIP_KEY.encode())
        relay = Relay(app, filled.org, translate, js, batch_size=batch_size)
        started, cpu = time.perf_counter(), time.process_time()
        published = await relay.publish_pending()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        stored = (await js.stream_info(EVENTS_STREAM)).state.messages
    finally:
        await nc.close()
        app.factory.close()
    check_stored(published, stored)
    return RelayDrain(published, seconds, stored, cpu)


def check_stored(published: int, stored: int) -> None:
    """A drain counts only if the stream holds exactly what the relay says it published."""
    if stored != published or published == 0:
        raise RuntimeError(f"relay published {published:,} events but the stream holds {stored:,}")


async def drain_by_phase(url: str, filled: FilledStore, batch_size: int) -> RelayPhases:
    """The relay's steps, batch after batch with nothing overlapping, each one's CPU counted."""
    app = LA_SERVICE.application(filled.org, store_env(filled.org, sqlite_path=filled.path))
    nc = await connect_bus(url, name="bench-relay-phases")
    clock = PhaseClock(dict.fromkeys(PHASES, 0.0))
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        translate = LA_SERVICE.translator(app, DEMO_PARTNERSHIP_KEY.encode())
        relay = Relay(app, filled.org, translate, js, batch_size=batch_size)
        app.mapper.to_domain_event = clock.timed("decode", app.mapper.to_domain_event)
        fetch_keys = relay._keys

        async def keys(people: set[str]) -> dict[str, bytes | None]:
            with clock.phase("keys"):
                return await fetch_keys(people)
        relay._keys = keys  # type: ignore[method-assign]
        position, published = relay.position, 0
        while True:
            with clock.phase("read"):
                notifications = app.recorder.select_notifications(
                    start=position.notification_id + 1, limit=batch_size)
            if not notifications:
                break
            with clock.phase("translate"):
                translated = relay.translate_batch(notifications)
            with clock.phase("seal"):
                sealed = await relay.seal_batch(translated)
            with clock.phase("chain"):
                outgoing = relay.chain(sealed, position.last_hash)
            if problems := [o.problem for o in outgoing if o.problem is not None]:
                raise RuntimeError(f"the bench store has events the relay quarantines: {problems}")
            with clock.phase("publish"):
                acks = await asyncio.wait_for(asyncio.gather(*await relay.publish(outgoing)),
                                              relay.ack_timeout)
            last_hash = next((o.body_hash for o in reversed(outgoing) if o.body_hash), None)
            position = Position(outgoing[-1].notification_id, last_hash or position.last_hash)
            with clock.phase("checkpoint"):
                relay.checkpoint.save(position)
            published += len(acks)
        stored = (await js.stream_info(EVENTS_STREAM)).state.messages
    finally:
        await nc.close()
        app.factory.close()
    check_stored(published, stored)
    seconds = dict(clock.seconds)
    seconds["translate"] -= seconds["decode"]  # timed inside translate_batch
    seconds["seal"] -= seconds["keys"]  # timed inside seal_batch
    return RelayPhases(published, seconds)


def run_relay(filled: FilledStore, workdir: Path, batch_size: int = RELAY_BATCHES[0],
              *, by_phase: bool = False) -> Any:
    """A fresh nats-server (stopped by its PID afterwards) and one relay drain into it, from a
    copy of the store (the relay's checkpoint lives in the store, so each drain needs its own):
    a `RelayDrain`, or with `by_phase` the `RelayPhases` of `drain_by_phase`."""
    name = f"{'phases' if by_phase else 'batch'}-{batch_size}"
    copy = workdir / f"{filled.path.stem}-{name}.sqlite"
    shutil.copyfile(filled.path, copy)
    run = drain_by_phase if by_phase else drain
    with NatsServer(store_dir=workdir / f"nats-relay-{name}") as server:
        return asyncio.run(run(server.url, replace(filled, path=copy), batch_size))


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
            versus="publish", note=f"{result.published:,} in {result.seconds:.1f} s, "
                                   f"{result.cpu_per_event:,.0f} µs CPU/event; translate, seal, "
                                   "chain, publish, checkpoint"))
    return figures + phase_figures(run_relay(filled, run.workdir / "relay", by_phase=True))


def phase_figures(phases: RelayPhases) -> list[Figure]:
    """CPU per event by phase, and the ratio the publish phase alone would leave room for."""
    figures = [
        Figure(f"relay CPU: {phase}", phases.per_event(phase), "µs/event",
               note=f"{phases.per_event(phase) / phases.total:.0%} of the relay's CPU")
        for phase in PHASES
    ]
    publish = phases.per_event("publish")
    figures.append(Figure(
        "relay CPU: all phases", phases.total, "µs/event",
        note=f"{phases.published:,} events one batch after another, this process only; "
             f"publish alone is {publish / phases.total:.2f} of it (the most the relay can reach "
             "of raw publish while the other phases cost what they do)"))
    return figures
