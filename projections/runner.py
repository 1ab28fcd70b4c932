"""The one live projection runner: a durable JetStream pull consumer feeding a read model.

Why it is shaped like this:
- Pull, in batches, one batch at a time: the runner decides when to fetch, so a slow store
  applies back-pressure instead of piling up unacknowledged messages, and each batch is one
  store transaction (fast, and atomic with the position).
- Ack after commit, and the position in the same transaction as the read model: a crash
  between commit and ack redelivers messages the store has already applied; their sequence is
  at or below the committed position, so they are acked and skipped.
- A message that cannot be decoded is copied to SEND_DEADLETTER (original bytes, reason in the
  headers) and acked only once the dead-letter stream has stored it: never dropped, never
  `term`ed silently. Any other failure (store error, dead-letter stream full) naks the whole
  batch for redelivery after `retry_delay`: the projection stalls visibly (the lag in
  `/api/position` grows) rather than skipping history.
- The consumer starts at `position + 1` when it is created, and is recreated if it has acked
  past the store (a fresh or restored store), so the store's position, not the consumer's, is
  the truth. One runner per store: two runners on one durable would interleave batches.
- Scaled out (`partition`, see `projections.partitions`): the same loop reads one partition of
  SEND_EVENTS_P<n>, a mirror with SEND_EVENTS' sequences, and commits that partition's position.
- The NATS connection reconnects by itself (`connect_bus`); while the server is away fetches
  time out or fail, the runner pauses, rebinds and carries on from the committed position.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts.subjects import ALL_EVENTS
from projections.batch import open_batch, stream_seq
from projections.deadletter import dead_letter
from projections.partitions import Partition, dead_letter_original
from projections.projection import ProjectionStore, StreamEvent, durable_name
from services.bus.streams import EVENTS_STREAM
from services.keystore import PersonKeyStore

log = logging.getLogger(__name__)

OnCommit = Callable[[Sequence[StreamEvent], int, int], Awaitable[None]]
"""Called after each commit with (events, previous position, new position): the live feed's
hook (`projections.live.ChangeAnnouncer`). It must not raise: the batch is already committed."""


@dataclass(frozen=True)
class ConsumerSettings:
    batch_size: int = 256
    fetch_timeout: float = 1.0
    """Also bounds how long `stop()` takes to take effect."""
    ack_wait: float = 30.0
    """Far above the time to apply one batch; a crashed runner's batch comes back after this."""
    max_ack_pending: int = 1024
    retry_delay: float = 1.0


def consumer_config(
    durable: str, position: int, settings: ConsumerSettings, filter_subject: str = ALL_EVENTS
) -> ConsumerConfig:
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        description=f"read model {durable}: resumes after its committed stream position",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=position + 1,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait,
        max_ack_pending=max(settings.max_ack_pending, settings.batch_size),
        max_deliver=-1,
        filter_subject=filter_subject,
    )


async def bind_consumer(
    js: JetStreamContext,
    durable: str,
    position: int,
    settings: ConsumerSettings,
    stream: str = EVENTS_STREAM,
    filter_subject: str = ALL_EVENTS,
) -> JetStreamContext.PullSubscription:
    """Bind to the durable consumer, (re)creating it to start right after `position`."""
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        info = None
    if info is not None:
        # Delivered past the store (acked or not: a crashed runner's batch): left alone, those
        # messages would come back after ack_wait, behind newer ones the store would apply first.
        delivered = info.delivered.stream_seq if info.delivered else 0
        if delivered > position or info.config.filter_subject != filter_subject:
            log.warning(
                "consumer %s has delivered up to %s but the store is at %s: recreating it",
                durable, delivered, position,
            )
            await js.delete_consumer(stream, durable)
            info = None
    if info is None:
        await js.add_consumer(stream, consumer_config(durable, position, settings, filter_subject))
    return await js.pull_subscribe_bind(durable=durable, stream=stream)


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
        self._store = partition.view(store) if partition else store
        self._settings = settings or ConsumerSettings()
        self._stopping = asyncio.Event()
        self._position = 0
        self.applied = 0
        """Events this runner applied (not counting skipped redeliveries): for logs and tests."""
        self.dead_lettered = 0
        self.dead_letter_reasons: Counter[str] = Counter()
        """Dead letters by `DecodeError.reason`: read by the projector's /metrics."""

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

    async def run(self) -> None:
        """Fetch, apply, ack, until stopped; survives server restarts and store errors."""
        self._position = await asyncio.to_thread(self._store.position)
        log.info("%s starting after stream sequence %d", self._durable, self._position)
        sub: JetStreamContext.PullSubscription | None = None
        just_bound = False
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._bind()
                    just_bound = True
                msgs = await sub.fetch(self._settings.batch_size, self._settings.fetch_timeout)
                gap = None if just_bound else await self._gap_before(msgs)
            except TimeoutError:
                continue
            except nats.errors.Error as exc:
                log.warning("%s: bus unavailable (%s); retrying", self._durable, exc)
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
            try:
                await self._apply(msgs)
            except Exception:
                log.exception("%s: batch not applied; it will be redelivered", self._durable)
                await self._nak(msgs)
                await self._pause()
        await self._unbind(sub)
        log.info("%s stopped at stream sequence %d", self._durable, self._position)

    async def _bind(self) -> JetStreamContext.PullSubscription:
        if self._partition is None:
            return await bind_consumer(self._js, self._durable, self._position, self._settings)
        return await bind_consumer(
            self._js, self._durable, self._position, self._settings,
            self._partition.stream, self._partition.filter_subject,
        )

    async def _apply(self, msgs: list[Msg]) -> None:
        if self._partition is not None:
            self._partition.restore_subjects(msgs)
        batch = await open_batch(msgs, self._keys, after=self._position)
        for msg, error in batch.invalid:
            if self._partition is None:
                await dead_letter(self._js, msg, error)
            else:
                await dead_letter_original(self._js, msg, error)
            self.dead_lettered += 1
            self.dead_letter_reasons[error.reason] += 1
            log.warning("dead-lettered %s (%s): %s", msg.subject, error.reason, error)
        if batch.highest > self._position:
            previous = self._position
            self._position = await asyncio.to_thread(
                self._store.apply_batch, batch.events, batch.highest
            )
            self.applied += len(batch.events)
            if self._on_commit is not None:
                await self._on_commit(batch.events, previous, self._position)
        for msg in msgs:
            await msg.ack()

    async def _gap_before(self, msgs: list[Msg]) -> int | None:
        """The first new sequence if it is not the one right after the position, else None.

        SEND_EVENTS is never deleted from, so sequences are contiguous; a gap means messages
        naked or held by a killed runner will be redelivered after newer ones, and applying
        the newer ones first would move the position past them and skip them for ever.
        A partition's sequences are not contiguous: the server says which one comes next."""
        fresh = [stream_seq(m) for m in msgs if stream_seq(m) > self._position]
        if not fresh or min(fresh) == self._position + 1:
            return None
        if self._partition is not None:
            if await self._partition.next_seq(self._js, self._position) == min(fresh):
                return None
        return min(fresh)

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

    async def _unbind(
        self, sub: JetStreamContext.PullSubscription | None
    ) -> JetStreamContext.PullSubscription | None:
        """Drop the subscription (not the durable consumer, which keeps our place)."""
        if sub is not None:
            try:
                await sub.unsubscribe()
            except (nats.errors.Error, ValueError):
                pass
        return None
