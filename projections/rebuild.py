"""Rebuilding read models from the shared history: for audit replays and new read models.

An auditor asks "what did the dataset say as at stream sequence N" or "using only what had been
recorded by time T": `rebuild` reads SEND_EVENTS from `start_seq` to `stop_seq` into a store
(normally a fresh one), applying the same batch decoding as the live runner, optionally keeping
only the events `accept` allows. `rebuild_all` does the same for several stores at once: the
stream is read and decoded once and every store is fed from it. A rebuild never writes to the
dead-letter stream (the live runner already did); invalid messages are listed in the report.

Why batched direct gets (`projections.direct`): the stream is read at the stores' pace, one
batch of `batch_size` asked for at a time with the next one requested ahead, so a rebuild of
millions of events holds two batches in memory however slow the stores are; there is no
consumer to create or ack, and every role that may read the stream may rebuild from it. (An
ordered consumer, used before, let the server run millions of messages ahead of the stores on a
national-size stream: nats-py dropped and re-fetched them as a slow consumer.) One transaction
per batch per store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts import Envelope
from contracts.codec import KeyLookup
from contracts.subjects import ALL_EVENTS
from projections.batch import DecodedBatch, EventFilter, decode_batch, load_keys, stream_seq
from projections.direct import DirectReader
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
    batch_size: int = 10_000,
    idle_timeout: float = 10.0,
) -> RebuildReport:
    """Apply SEND_EVENTS[start_seq..stop_seq] (default: up to the current last) to `store`."""
    (report,) = await rebuild_all(
        nc, [store], start_seq=start_seq, stop_seq=stop_seq, accept=accept,
        batch_size=batch_size, idle_timeout=idle_timeout,
    )
    return report


async def rebuild_all(
    nc: Client,
    stores: Sequence[ProjectionStore],
    *,
    start_seq: int = 1,
    stop_seq: int | None = None,
    accept: EventFilter | None = None,
    batch_size: int = 10_000,
    idle_timeout: float = 10.0,
) -> list[RebuildReport]:
    """Apply SEND_EVENTS[start_seq..stop_seq] to every store, reading the stream once.

    Each store resumes after its own position; the reports are in the order of `stores`."""
    js = nc.jetstream()
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    stop = last if stop_seq is None else min(stop_seq, last)
    positions = await asyncio.gather(*(asyncio.to_thread(s.position) for s in stores))
    reports = [RebuildReport(position=p) for p in positions]
    start = max(start_seq, min(positions, default=stop) + 1)
    if start > stop:
        return reports
    reader = await DirectReader(
        nc, EVENTS_STREAM, ALL_EVENTS, start=start, stop=stop, batch=batch_size
    ).open()
    try:
        keys = PersonKeyStore(js)
        while msgs := await _next_batch(reader, reports, stop, idle_timeout):
            lookup = await load_keys(msgs, keys)
            await asyncio.gather(*(
                _feed(store, report, msgs, lookup, stop, accept)
                for store, report in zip(stores, reports, strict=True)
            ))
    finally:
        await reader.close()
    return reports


async def _next_batch(
    reader: DirectReader, reports: Sequence[RebuildReport], stop: int, idle_timeout: float
) -> list[Msg]:
    """The next batch, or [] when the range is read; `ReplayStalled` if the server is silent."""
    try:
        return await reader.next(idle_timeout)
    except nats.errors.TimeoutError:
        lowest = min(r.position for r in reports)
        raise ReplayStalled(
            f"replay stalled at stream sequence {lowest} of {stop}: no batch came back within "
            f"{idle_timeout:g} s"
        ) from None


async def _feed(
    store: ProjectionStore, report: RebuildReport, msgs: list[Msg], keys: KeyLookup, stop: int,
    accept: EventFilter | None,
) -> None:
    """Decode what this store has not applied yet and apply it, in the store's thread."""

    def decode_and_apply() -> tuple[DecodedBatch, int]:
        batch = decode_batch(msgs, after=report.position, until=stop, accept=accept, keys=keys)
        if batch.highest <= report.position:
            return batch, report.position
        return batch, store.apply_batch(batch.events, batch.highest)

    batch, position = await asyncio.to_thread(decode_and_apply)
    report.invalid.extend((stream_seq(m), e.reason) for m, e in batch.invalid)
    report.filtered_out += batch.filtered_out
    if position > report.position:
        report.applied += len(batch.events)
        report.position = position
