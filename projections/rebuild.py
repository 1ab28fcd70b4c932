"""Rebuilding a read model from the shared history: for audit replays and new read models.

An auditor asks "what did the dataset say as at stream sequence N" or "using only what had been
recorded by time T": `rebuild` reads SEND_EVENTS from `start_seq` to `stop_seq` through an
ephemeral consumer into a store (normally a fresh one), applying the same batch decoding as the
live runner, optionally keeping only the events `accept` allows. It never writes to the
dead-letter stream (the live runner already did); invalid messages are listed in the report.
The ephemeral consumer acks explicitly, so a message lost in flight is redelivered rather than
silently missing from the replay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import Envelope
from contracts.subjects import ALL_EVENTS
from projections.batch import EventFilter, open_batch
from projections.projection import ProjectionStore
from services.bus.streams import EVENTS_STREAM
from services.keystore import PersonKeyStore


class ReplayStalled(RuntimeError):
    """The stream stopped delivering before the requested sequence was reached."""


@dataclass
class RebuildReport:
    position: int = 0
    applied: int = 0
    filtered_out: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    """(stream sequence, decode reason) of each message that could not be decoded."""


def recorded_by(moment: datetime) -> EventFilter:
    """Keep only events their source had recorded by `moment` (what was knowable then)."""

    def accept(envelope: Envelope) -> bool:
        return envelope.recorded_at <= moment

    return accept


async def rebuild(
    nc: Client,
    store: ProjectionStore,
    *,
    start_seq: int = 1,
    stop_seq: int | None = None,
    accept: EventFilter | None = None,
    batch_size: int = 500,
    idle_timeout: float = 10.0,
) -> RebuildReport:
    """Apply SEND_EVENTS[start_seq..stop_seq] (default: up to the current last) to `store`."""
    js = nc.jetstream()
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    stop = last if stop_seq is None else min(stop_seq, last)
    report = RebuildReport(position=store.position())
    start = max(start_seq, report.position + 1)
    if start > stop:
        return report
    sub = await js.pull_subscribe(
        ALL_EVENTS,
        stream=EVENTS_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_ack_pending=batch_size * 2,
            inactive_threshold=30,
            mem_storage=True,
        ),
    )
    try:
        await _replay(
            sub, PersonKeyStore(js), store, report, stop, accept, batch_size, idle_timeout
        )
    finally:
        try:
            await sub.unsubscribe()
        except (nats.errors.Error, ValueError):
            pass
    return report


async def _replay(
    sub: JetStreamContext.PullSubscription,
    keys: PersonKeyStore,
    store: ProjectionStore,
    report: RebuildReport,
    stop: int,
    accept: EventFilter | None,
    batch_size: int,
    idle_timeout: float,
) -> None:
    loop = asyncio.get_running_loop()
    idle_since = loop.time()
    while report.position < stop:
        try:
            msgs = await sub.fetch(batch_size, timeout=1.0)
        except TimeoutError:
            if loop.time() - idle_since > idle_timeout:
                raise ReplayStalled(
                    f"replay stalled at stream sequence {report.position} of {stop}"
                ) from None
            continue
        idle_since = loop.time()
        batch = await open_batch(msgs, keys, after=report.position, until=stop, accept=accept)
        report.invalid.extend((m.metadata.sequence.stream, e.reason) for m, e in batch.invalid)
        report.filtered_out += batch.filtered_out
        if batch.highest > report.position:
            report.position = await asyncio.to_thread(
                store.apply_batch, batch.events, batch.highest
            )
            report.applied += len(batch.events)
        for msg in msgs:
            await msg.ack()
