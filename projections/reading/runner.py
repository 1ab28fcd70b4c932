"""The one live projection runner: a durable JetStream pull consumer feeding a read model.

Why it is shaped like this:
- Pull, in batches: the runner decides when to fetch, so a slow store applies back-pressure
  instead of piling up unacknowledged messages, and each batch is one store transaction (fast,
  and atomic with the position). The batch follows the backlog (`num_pending` of the last
  message): up to `max_batch` while catching up, so the per-batch costs (a fetch, a commit, an
  ack) are spread over thousands of events; and when caught up, a waiting fetch of one
  message, which returns the moment an event arrives, topped up at once by a no-wait fetch of
  whatever arrived behind it (while the last batch was applied), all applied as one batch: live
  latency is about one commit, and a loaded runner commits fewer, larger batches (a commit
  costs ~1 ms of CPU whatever its size: `bench/findings.md`, "Latency and live ingest").
  While the store applies a batch (in a thread), the next one is already being fetched if the
  backlog is deep enough to fill it (nearer the head, a batch fetched early would leave out
  what arrives during the commit, and its events would wait a whole extra batch).
- Ack after commit, once per batch: the consumer acks `AckPolicy.ALL`, so acking a batch's last
  message acks it all (one ack instead of thousands). The position is in the same transaction
  as the read model: a crash between commit and ack redelivers messages the store has already
  applied; their sequence is at or below the committed position, so they are acked and skipped.
- A message that cannot be decoded is copied to SEND_DEADLETTER (original bytes, reason in the
  headers) and acked only once the dead-letter stream has stored it: never dropped, never
  `term`ed silently. Any other failure (store error, dead-letter stream full) naks the whole
  batch for redelivery after `retry_delay`: the projection stalls visibly (the lag in
  `/api/position` grows) rather than skipping history.
- The consumer starts at `position + 1` when it is created, and is recreated if it has acked
  past the store (a fresh or restored store), so the store's position, not the consumer's, is
  the truth. One runner per store: two runners on one durable would interleave batches.
- Scaled out (`partition`, see `projections.reading.partitions`): the same loop reads one partition
  of SEND_EVENTS_P<n>, a mirror with SEND_EVENTS' sequences, and commits that partition's position:
  up to just before its next message when one is already there (`Partition.complete_to`), so
  the position says how far the partition is complete, not only what it last applied.
- The store may be in this process (decoded and applied in a thread) or in a worker process of
  its own (`projections.reading.store_worker`, what `sendx projector` uses): then fetching and
  parsing the next batch here and applying this one there use two cores. Either way the runner hands
  over the batch's `RawEvent`s and sealing keys (`projections.reading.applying`).
- The NATS connection reconnects by itself (`connect_bus`); while the server is away fetches
  time out or fail, the runner pauses, rebinds and carries on from the committed position.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts import DecodeError
from contracts.subjects import ALL_EVENTS
from projections.reading.applying import Summary, applier_for
from projections.reading.batch import load_keys, raw_events, stream_seq
from projections.reading.consumer import ConsumerSettings, bind_consumer, ensure_consumer
from projections.reading.dead_lettering import dead_letter
from projections.reading.partitions import Partition, dead_letter_original
from projections.reading.projection import ProjectionStore, durable_name
from projections.reading.pull import BatchPull
from projections.reading.store_worker import StoreWorker
from runtime.bus.streams import EVENTS_STREAM
from runtime.keystore import PersonKeyStore

__all__ = ["ConsumerSettings", "OnCommit", "ProjectionRunner", "bind_consumer"]
"""`ConsumerSettings` and `bind_consumer` live in `projections.reading.consumer`; kept importable
here."""

log = logging.getLogger(__name__)

OnCommit = Callable[[Summary, int, int], Awaitable[None]]
"""Called after each commit with (what it touched, previous position, new position): the live
feed's hook (`projections.serving.live.ChangeAnnouncer`). It must not raise: the batch is
committed."""


class ProjectionRunner:
    """Keeps one store up to date with SEND_EVENTS until `stop()` is called."""

    def __init__(
        self,
        nc: Client,
        projection_name: str,
        store: ProjectionStore,
        settings: ConsumerSettings | None = None,
        on_commit: OnCommit | None = None,
        partition: Partition | None = None,
    ) -> None:
        """With `partition`, `store` is shared by every partition's worker (`partitions`)."""
        self._nc = nc
        self._partition = partition
        self._on_commit = on_commit
        self._js = nc.jetstream()
        self._keys = PersonKeyStore(self._js)
        self._durable = partition.durable(projection_name) if partition else durable_name(
            projection_name
        )
        if isinstance(store, StoreWorker):
            if store.partition != partition:
                raise ValueError(f"the store worker applies partition {store.partition}, "
                                 f"not {partition}")
            self._store: ProjectionStore | StoreWorker = store
        else:
            self._store = partition.view(store) if partition else store
        self._applier = applier_for(self._store)
        self._settings = settings or ConsumerSettings()
        self._stopping = asyncio.Event()
        self._position = 0
        self._backlog = 0
        """Messages the consumer had yet to deliver after the last batch (its `num_pending`)."""
        self.applied = 0
        """Events this runner applied (not counting skipped redeliveries): for logs and tests."""
        self.dead_lettered = 0
        self.dead_letter_reasons: Counter[str] = Counter()
        """Dead letters by `DecodeError.reason`: read by the projector's /metrics."""
        self.batches = 0
        """Batches committed: with `applied`, the live batch size (per-batch costs dominate)."""
        self._cpu: Counter[str] = Counter()
        self._loop_cpu_from = time.thread_time()

    @property
    def durable(self) -> str:
        """The durable JetStream consumer this runner pulls from."""
        return self._durable

    @property
    def position(self) -> int:
        """The stream sequence committed by the last batch this runner applied."""
        return self._position

    def stop(self) -> None:
        self._stopping.set()

    def cpu_by_phase(self) -> dict[str, float]:
        """CPU seconds so far by phase, to say where a runner's time per event goes: `fetch`
        (this event loop's time outside the phases below: nats-py reading and parsing the
        messages, the pull requests), `keys` (sealing keys, the batch as `RawEvent`s),
        `decode` and `store` (fold, SQL, commit; in the store's thread or worker) and `ack`
        (dead letters, the commit hook, the ack). Call it from the runner's event loop."""
        loop = time.thread_time() - self._loop_cpu_from
        own = self._cpu["keys"] + self._cpu["ack"]
        return {"fetch": max(0.0, loop - own), "keys": self._cpu["keys"],
                "decode": self._cpu["decode"], "store": self._cpu["store"],
                "ack": self._cpu["ack"]}

    async def run(self) -> None:
        """Fetch, apply, ack, until stopped; survives server restarts and store errors."""
        self._position = await asyncio.to_thread(self._applier.position)
        self._loop_cpu_from = time.thread_time()
        log.info("%s starting after stream sequence %d", self._durable, self._position)
        sub: BatchPull | None = None
        ahead: asyncio.Task[list[Msg]] | None = None
        """The next batch, fetched while the store applies the current one."""
        just_bound = False
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._bind()
                    just_bound = True
                msgs = await (ahead or self._fetch(sub))
                ahead = None
                gap = None if just_bound else await self._gap_before(msgs)
            except TimeoutError:
                ahead = None
                continue
            except nats.errors.Error as exc:
                log.warning("%s: bus unavailable (%s); retrying", self._durable, exc)
                ahead = None
                sub = await self._unbind(sub)
                await self._pause()
                continue
            just_bound = False
            if gap is not None:
                log.warning(
                    "%s: stream sequence %d arrived before %d (an earlier batch is being "
                    "redelivered); resuming in order after %d",
                    self._durable, gap, self._position + 1, self._position,
                )
                sub = await self._unbind(sub)
                continue
            self._backlog = msgs[-1].metadata.num_pending
            if self._backlog >= self._settings.largest_batch:
                # Far behind: the next batch will be full whenever it is fetched. Nearer the
                # head, it is fetched after the commit, so that it holds what arrived meanwhile.
                ahead = asyncio.create_task(self._fetch(sub))
            try:
                await self._apply(msgs)
            except Exception:
                log.exception("%s: batch not applied; it will be redelivered", self._durable)
                await self._nak(msgs)
                await self._give_back(ahead)
                ahead = None
                await self._pause()
        await self._give_back(ahead)
        await self._unbind(sub)
        log.info("%s stopped at stream sequence %d", self._durable, self._position)

    async def _bind(self) -> BatchPull:
        stream, subjects = EVENTS_STREAM, ALL_EVENTS
        if self._partition is not None:
            stream, subjects = self._partition.stream, self._partition.filter_subject
        self._backlog = await ensure_consumer(
            self._js, self._durable, self._position, self._settings, stream, subjects
        )
        return await BatchPull(self._nc, stream, self._durable).open()

    async def _fetch(self, sub: BatchPull) -> list[Msg]:
        size, timeout = self._settings.fetch_size(self._backlog), self._settings.fetch_timeout
        if self._backlog > 0:
            return await sub.fetch(size, timeout, wait=False)
        msgs = await sub.fetch(size, timeout, wait=True)
        more = msgs[-1].metadata.num_pending
        if more <= 0:
            return msgs
        # The backlog was read before the last batch was applied; what arrived meanwhile joins
        # this message in one batch (one commit), instead of following it in the next one.
        try:
            return msgs + await sub.fetch(self._settings.fetch_size(more), timeout, wait=False)
        except nats.errors.Error:  # nothing after all, or the bus went: the next fetch says
            return msgs

    async def _apply(self, msgs: list[Msg]) -> None:
        """Dead letters first, then one store transaction, then one ack for the whole batch."""
        began = time.thread_time()
        if self._partition is not None:
            self._partition.restore_subjects(msgs)
        keys = await load_keys(msgs, self._keys, getattr(self._store, "needs_subject", None))
        raws = raw_events(msgs)
        self._cpu["keys"] += time.thread_time() - began
        complete_to = None
        if self._partition is not None:
            complete_to = await self._partition.complete_to(self._js, max(map(stream_seq, msgs)))
        apply = functools.partial(
            self._applier.decode_and_apply, raws, after=self._position, keys=keys,
            complete_to=complete_to,
        )
        outcome = await asyncio.to_thread(apply)
        self._cpu.update(outcome.cpu)
        acking = time.thread_time()
        if outcome.invalid:
            for index, reason, message in outcome.invalid:
                msg, error = msgs[index], DecodeError(reason, message)  # type: ignore[arg-type]
                if self._partition is None:
                    await dead_letter(self._js, msg, error)
                else:
                    await dead_letter_original(self._js, msg, error)
                self.dead_lettered += 1
                self.dead_letter_reasons[reason] += 1
                log.warning("dead-lettered %s (%s): %s", msg.subject, reason, message)
            if outcome.highest > self._position:
                outcome = await asyncio.to_thread(apply, commit_invalid=True)
                self._cpu.update(outcome.cpu)
        if outcome.position is not None:
            previous = self._position
            self._position = outcome.position
            self.applied += outcome.applied
            self.batches += 1
            if self._on_commit is not None:
                await self._on_commit(outcome.summary, previous, self._position)
        await msgs[-1].ack()
        self._cpu["ack"] += time.thread_time() - acking

    async def _gap_before(self, msgs: list[Msg]) -> int | None:
        """The first new sequence if it is not the one right after the position, else None.

        SEND_EVENTS is never deleted from, so sequences are contiguous; a gap means messages
        naked or held by a killed runner will be redelivered after newer ones, and applying
        the newer ones first would move the position past them and skip them for ever.
        A partition's sequences are not contiguous: the server says which one comes next."""
        fresh = [seq for seq in map(stream_seq, msgs) if seq > self._position]
        if not fresh or min(fresh) == self._position + 1:
            return None
        if self._partition is not None:
            if await self._partition.next_seq(self._js, self._position) == min(fresh):
                return None
        return min(fresh)

    async def _give_back(self, ahead: asyncio.Task[list[Msg]] | None) -> None:
        """Nak a batch fetched ahead that will not be applied now (it comes back in order)."""
        if ahead is not None:
            try:
                await self._nak(await ahead)
            except (TimeoutError, nats.errors.Error):
                pass

    async def _nak(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                await msg.nak(delay=self._settings.retry_delay)
            except nats.errors.Error:
                return

    async def _pause(self) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), self._settings.retry_delay)
        except TimeoutError:
            pass

    async def _unbind(self, sub: BatchPull | None) -> None:
        """Drop the subscription (not the durable consumer, which keeps our place)."""
        if sub is not None:
            await sub.close()
