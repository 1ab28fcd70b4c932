"""Rebuilding read models from the shared history: for audit replays and new read models.

An auditor asks "what did the dataset say as at stream sequence N" or "using only what had been
recorded by time T": `rebuild` reads SEND_EVENTS from `start_seq` to `stop_seq` into a store
(normally a fresh one), applying the same batch decoding as the live runner, optionally keeping
only the events `accept` allows. `rebuild_all` does the same for several stores at once: the
stream is read and decoded once and every store is fed from it. A rebuild never writes to the
dead-letter stream (the live runner already did); invalid messages are listed in the report.

Why batched direct gets (`projections.reading.direct`): the stream is read at the stores' pace, one
batch of `batch_size` asked for at a time with the next one requested ahead, so a rebuild of
millions of events holds two batches in memory however slow the stores are; there is no
consumer to create or ack, and every role that may read the stream may rebuild from it. (An
ordered consumer, used before, let the server run millions of messages ahead of the stores on a
national-size stream: nats-py dropped and re-fetched them as a slow consumer.)

Two ways to apply what is read:
- fresh stores (every `sendx rebuild`, `audit verify` and `audit replay`) fold each person
  once: the range is spilled to partition files by person (`spill.py`, in `spill_dir`, removed
  afterwards), then each store folds every partition's people in one transaction per file and
  builds its indexes last (`folding.py`, `readmodel/bulk.py`). The cost per event no longer
  depends on how many people the store could remember.
- a store that already holds events (resuming), or has no bulk path: one transaction per batch
  per store, the live runner's incremental path. It is also what a bulk load falls back to in
  the one case a per-person grouping cannot decide (an event id under two people).
Both give the same rows (`tests/projections/reading/test_grouped_rebuild.py`).
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts import Envelope
from contracts.subjects import ALL_EVENTS
from projections.reading.applying import Applier, applier_for
from projections.reading.batch import EventFilter, KeyTable, RawEvent, load_keys, raw_events
from projections.reading.direct import DirectReader
from projections.reading.folding import Loaded
from projections.reading.projection import ProjectionStore
from projections.reading.spill import SpillFiles, SpillWriter, partition_count
from runtime.bus.streams import EVENTS_STREAM
from runtime.keystore import PersonKeyStore
from runtime.progress import Tick, task

LANE_FILES = 4
"""Partition files per fold worker at least, when several fold one store (`FoldWorkers`): the
files are shared out as workers become free, so smaller files even out their finishing times."""


class ReplayStalled(RuntimeError):
    """The stream stopped delivering before the requested sequence was reached."""


@dataclass
class RebuildReport:
    position: int = 0
    applied: int = 0
    filtered_out: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    """(stream sequence, decode reason) of each message that could not be decoded."""
    grouped: bool = False
    """Whether the store was loaded person by person (a fresh store), not batch by batch."""
    phases: dict[str, float] = field(default_factory=dict)
    """Wall seconds of a grouped load by phase: `read` (the stream, spilled by person), `fold`
    (every person folded and written) and `index` (the indexes built last)."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of a grouped load's folding by phase (`folding.CPU_PHASES`), in the
    process (or processes) that folded: where the cost per event goes."""


@dataclass(frozen=True)
class RecordedBy:
    """Keep only events their source had recorded by `moment` (what was knowable then).
    A picklable `EventFilter`, so a store worker process can apply it too."""

    moment: datetime

    def __call__(self, envelope: Envelope) -> bool:
        return envelope.recorded_at <= self.moment


def recorded_by(moment: datetime) -> EventFilter:
    return RecordedBy(moment)


async def rebuild(
    nc: Client,
    store: ProjectionStore | Applier,
    *,
    start_seq: int = 1,
    stop_seq: int | None = None,
    accept: EventFilter | None = None,
    batch_size: int = 10_000,
    idle_timeout: float = 10.0,
    spill_dir: Path | None = None,
) -> RebuildReport:
    """Apply SEND_EVENTS[start_seq..stop_seq] (default: up to the current last) to `store`."""
    (report,) = await rebuild_all(
        nc, [store], start_seq=start_seq, stop_seq=stop_seq, accept=accept,
        batch_size=batch_size, idle_timeout=idle_timeout, spill_dir=spill_dir,
    )
    return report


async def rebuild_all(
    nc: Client,
    stores: Sequence[ProjectionStore | Applier],
    *,
    start_seq: int = 1,
    stop_seq: int | None = None,
    accept: EventFilter | None = None,
    batch_size: int = 10_000,
    idle_timeout: float = 10.0,
    on_progress: Tick | None = None,
    spill_dir: Path | None = None,
) -> list[RebuildReport]:
    """Apply SEND_EVENTS[start_seq..stop_seq] to every store, reading the stream once.

    Each store resumes after its own position; the reports are in the order of `stores`.
    A store may be a worker (`projections.reading.store_worker`): each decodes and folds in its own
    process, and this one only reads the stream. `on_progress` gets the number of stream
    sequences done after each batch (default: the CLI's progress display, `runtime.progress`).
    Fresh stores are loaded person by person from partition files in `spill_dir` (default: the
    system's temporary directory), which needs about the stream's size free.
    """
    js = nc.jetstream()
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    stop = last if stop_seq is None else min(stop_seq, last)
    appliers = [applier_for(s) for s in stores]
    positions = await asyncio.gather(*(asyncio.to_thread(a.position) for a in appliers))
    reports = [RebuildReport(position=p) for p in positions]
    start = max(start_seq, min(positions, default=stop) + 1)
    if start > stop:
        return reports
    tick = on_progress or task("rebuilding", total=stop - start + 1)
    fresh = await asyncio.gather(*(asyncio.to_thread(_bulk_begin, a) for a in appliers))
    if all(fresh):
        undone = await _grouped(
            nc, appliers, reports, start, stop, accept, batch_size, idle_timeout, tick, spill_dir
        )
        if not undone:
            return reports
        appliers = [appliers[i] for i in undone]  # emptied again: the incremental way
        reports_left = [reports[i] for i in undone]
    else:  # the fresh ones are put back as they were (indexes built, position 0)
        await asyncio.gather(*(
            asyncio.to_thread(a.bulk_finish, 0) for a, began in zip(appliers, fresh, strict=True)
            if began
        ))
        reports_left = reports
    await _incremental(nc, appliers, reports_left, start, stop, accept, batch_size,
                       idle_timeout, tick)
    return reports


def _bulk_begin(applier: Applier) -> bool:
    begin = getattr(applier, "bulk_begin", None)
    return bool(begin is not None and begin())


async def _incremental(
    nc: Client, appliers: Sequence[Applier], reports: Sequence[RebuildReport], start: int,
    stop: int, accept: EventFilter | None, batch_size: int, idle_timeout: float, tick: Tick,
) -> None:
    """One transaction per batch per store (the live runner's path)."""
    reader = await DirectReader(
        nc, EVENTS_STREAM, ALL_EVENTS, start=start, stop=stop, batch=batch_size
    ).open()
    try:
        keys = PersonKeyStore(nc.jetstream())
        while msgs := await _next_batch(reader, reports, stop, idle_timeout):
            lookup = await load_keys(msgs, keys)
            raws = raw_events(msgs)
            await asyncio.gather(*(
                _feed(applier, report, raws, lookup, stop, accept)
                for applier, report in zip(appliers, reports, strict=True)
            ))
            tick(min(r.position for r in reports) - start + 1)
    finally:
        await reader.close()


async def _grouped(
    nc: Client, appliers: Sequence[Applier], reports: Sequence[RebuildReport], start: int,
    stop: int, accept: EventFilter | None, batch_size: int, idle_timeout: float, tick: Tick,
    spill_dir: Path | None,
) -> list[int]:
    """Spill the range by person, then let every store fold each person once (in parallel,
    one partition file at a time). Returns the indexes of stores that gave up (emptied)."""
    clock = time.perf_counter
    started = clock()
    with tempfile.TemporaryDirectory(prefix="sendx-rebuild-", dir=spill_dir) as directory:
        lanes = max(len(getattr(a, "workers", [a])) for a in appliers)
        files = max(partition_count(stop - start + 1), 1 if lanes == 1 else LANE_FILES * lanes)
        spill = await _spill(nc, Path(directory), files, start, stop, batch_size, idle_timeout,
                             tick)
        read = clock()
        folded = task("folding each person once", total=len(spill.paths) * len(appliers))
        done = 0

        async def fold(applier: Applier) -> Loaded | None:
            """Every file into one store, by each of its workers (`FoldWorkers`) as it is free."""
            total, paths, gave_up = Loaded(), iter(spill.paths), False

            async def lane(worker: Applier) -> None:
                nonlocal done, gave_up
                for path in paths:  # shared: a worker takes the next file when it is free
                    if gave_up:
                        return
                    loaded = await asyncio.to_thread(
                        functools.partial(worker.bulk_partition, path, until=stop, accept=accept)
                    )
                    if loaded is None:
                        gave_up = True
                        return
                    total.add(loaded)
                    done += 1
                    folded(done)

            await asyncio.gather(*(lane(w) for w in getattr(applier, "workers", [applier])))
            if gave_up:  # once every worker has stopped: nothing is written after the emptying
                await asyncio.to_thread(applier.bulk_abandon)
                return None
            return total

        outcomes = await asyncio.gather(*(fold(a) for a in appliers))
    folded_at = clock()
    undone = []
    for index, (applier, report, outcome) in enumerate(
        zip(appliers, reports, outcomes, strict=True)
    ):
        if outcome is None:
            undone.append(index)
            continue
        position = max(outcome.highest, spill.highest)
        report.position = await asyncio.to_thread(applier.bulk_finish, position)
        report.applied, report.filtered_out = outcome.applied, outcome.filtered_out
        report.invalid, report.grouped = sorted(outcome.invalid), True
        report.cpu = dict(outcome.cpu)
    finished = clock()
    for report in reports:
        if report.grouped:
            report.phases = {"read": read - started, "fold": folded_at - read,
                             "index": finished - folded_at}
    return undone


async def _spill(
    nc: Client, directory: Path, files: int, start: int, stop: int, batch_size: int,
    idle_timeout: float, tick: Tick,
) -> SpillFiles:
    """Read SEND_EVENTS[start..stop] into `files` partition files by person, with the keys
    it needs."""
    writer = SpillWriter(directory, files)
    reader = await DirectReader(
        nc, EVENTS_STREAM, ALL_EVENTS, start=start, stop=stop, batch=batch_size
    ).open()
    progress = [RebuildReport(position=start - 1)]
    try:
        keys = PersonKeyStore(nc.jetstream())
        while msgs := await _next_batch(reader, progress, stop, idle_timeout):
            lookup = await load_keys(msgs, keys)
            raws = raw_events(msgs)
            writer.add(raws, lookup)
            progress[0].position = raws[-1].seq
            tick(raws[-1].seq - start + 1)
    except BaseException:
        writer.abort()
        raise
    finally:
        await reader.close()
    return writer.close()


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
    applier: Applier, report: RebuildReport, raws: list[RawEvent], keys: KeyTable, stop: int,
    accept: EventFilter | None,
) -> None:
    """Decode what this store has not applied yet and apply it (in a thread or its worker)."""
    outcome = await asyncio.to_thread(functools.partial(
        applier.decode_and_apply, raws, after=report.position, until=stop, accept=accept,
        keys=keys, commit_invalid=True,
    ))
    report.invalid.extend((raws[index].seq, reason) for index, reason, _ in outcome.invalid)
    report.filtered_out += outcome.filtered_out
    if outcome.position is not None and outcome.position > report.position:
        report.applied += outcome.applied
        report.position = outcome.position
