"""Scaling a projection out: N workers, each owning the people of one partition.

Why partition by person. A read model's facts are derived per person (`readmodel/store.py`),
so people are the unit that must be applied in order and by one writer; different people are
independent. The server splits the stream for us: SEND_EVENTS_P<n> mirrors SEND_EVENTS with
every subject rewritten to `send.part.<n>.<i>.<org>.<family>.<name>.<person_key>`, where `i` is
nats-server's `partition(n)` of the person key (`runtime.bus.streams`). Worker `i` runs the
ordinary runner on that mirror, filtered to its partition, with its own durable consumer
`projection-<name>-p<i>-of-<n>` and its own committed position in the shared store. So:

- per-person order: one person is always in one partition, delivered in stream order;
- no double counting when a worker dies: a replacement for the same partition resumes after
  the position the dead one committed (re-creating the durable consumer from there), and the
  store deduplicates events by id besides;
- sequences are SEND_EVENTS sequences: a mirror keeps them, so positions, `person_events` and
  dead letters (`Sendx-Original-Stream: SEND_EVENTS`, the original subject) read exactly as
  they do for an unpartitioned runner, and a dead letter is stored once whoever writes it.
  A partition's sequences are not contiguous, so "is this the next message?" is asked of the
  server (`next_seq`) instead of assumed to be position + 1.

`partition_of` is the same hash the server applies (FNV-1a, 32 bit, modulo n), so operators
and tests can tell which worker owns a person without asking the bus.

How far N workers have got together (`progress_of`, for `/api/position` and the live feed).
Each commits its own position, so no single number says "applied"; what a reader may rely on
is the highest sequence S such that *every* SEND_EVENTS message up to S has been applied.
Each worker commits, as its position, how far its partition is complete: when it commits a
batch it asks the mirror for its partition's next message (`Partition.complete_to`) and, if
one is already there, commits the sequence just before it (nothing of its partition lies
between), else the batch's last. So the reader needs no message of the mirror (the dashboard's
login may read none): a partition whose worker's consumer has nothing pending or unacked is
complete up to the mirror's last sequence read *before* the consumer (the runner acks only
after it commits, so a message arriving meanwhile cannot be counted as applied); any other
partition is complete up to its committed position. S is the lowest of those bounds. Without
the bus, the lowest committed position is still a safe S.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import DecodeError
from contracts.subjects import deadletter_subject, event_subject_of, partition_events
from projections.reading.dead_lettering import DECODE_STAGE, deadletter_headers, source_org_of
from projections.reading.projection import StreamEvent
from runtime.bus.durables import partition_durable, partition_name
from runtime.bus.streams import EVENTS_STREAM, partitioned_stream_name
from runtime.ownership import Opened

_PARTITION_NAME = re.compile(r"^p(?P<index>\d+)-of-(?P<count>\d+)$")
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def partition_of(person_key: str, count: int) -> int:
    """The partition nats-server's `partition(count, …)` puts `person_key` in."""
    digest = _FNV_OFFSET
    for byte in person_key.encode():
        digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return digest % count


class SharedStore(Protocol):
    """A store every partition's worker writes, each with its own position."""

    def position(self, partition: str | None = None) -> int: ...

    def apply_batch(
        self,
        events: Sequence[StreamEvent],
        position: int | None = None,
        partition: str | None = None,
    ) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Partition:
    """Partition `index` of `count`: what one worker reads and where it keeps its place."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--partitions must be at least 1, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"--partition must be between 0 and {self.count - 1} for {self.count} "
                f"partitions, not {self.index}"
            )

    @property
    def name(self) -> str:
        """The key of this partition's position in the store, and its consumers' suffix."""
        return partition_name(self.index, self.count)

    @classmethod
    def named(cls, name: str) -> Partition:
        """The partition whose `name` this is (`p1-of-3`)."""
        match = _PARTITION_NAME.match(name)
        if match is None:
            raise ValueError(
                f"a partition is named p<index>-of-<count>, e.g. p1-of-3, not {name!r}"
            )
        return cls(int(match["index"]), int(match["count"]))

    @property
    def stream(self) -> str:
        return partitioned_stream_name(self.count)

    @property
    def filter_subject(self) -> str:
        return partition_events(self.count, self.index)

    def durable(self, projection_name: str) -> str:
        return partition_durable(projection_name, self.index, self.count)

    def owns(self, person_key: str) -> bool:
        return partition_of(person_key, self.count) == self.index

    def restore_subjects(self, msgs: Sequence[Msg]) -> None:
        """Give each message back its SEND_EVENTS subject, which `contracts.decode` checks."""
        for msg in msgs:
            msg.subject = event_subject_of(msg.subject)

    async def next_seq(self, js: JetStreamContext, after: int) -> int | None:
        """The sequence of this partition's first message after `after` (None: none yet)."""
        try:
            msg = await js.get_msg(self.stream, after + 1, subject=self.filter_subject, next=True)
        except NotFoundError:
            return None
        return msg.seq

    async def complete_to(self, js: JetStreamContext, handled: int) -> int | None:
        """With every message of this partition up to `handled` in hand: the sequence up to which
        the partition is then complete, when its next message is already in the mirror (None:
        not yet, so no more than `handled`). The mirror only grows, so this stays true."""
        following = await self.next_seq(js, handled)
        return None if following is None else following - 1

    def view(self, store: SharedStore | PartitionedStore) -> PartitionedStore:
        """`store` (shared by every partition's worker) as this partition sees it."""
        if isinstance(store, PartitionedStore):
            if store.partition != self:
                raise ValueError(f"store is already {store.partition.name}'s, not {self.name}'s")
            return store
        return PartitionedStore(store, self)


class PartitionedStore:
    """A per-person store (`readmodel.store.PersonHistoryStore`) with this partition's position:
    what the runner needs (`projection.ProjectionStore`)."""

    def __init__(self, store: SharedStore, partition: Partition) -> None:
        self.shared = store
        self.partition = partition

    def position(self) -> int:
        return self.shared.position(partition=self.partition.name)

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        return self.shared.apply_batch(events, position, partition=self.partition.name)

    def opened_references(self, people: Iterable[str]) -> set[Opened]:
        return self.shared.opened_references(people)

    def close(self) -> None:
        self.shared.close()


async def dead_letter_original(js: JetStreamContext, msg: Msg, error: DecodeError) -> None:
    """Dead-letter a partition's message as SEND_EVENTS' own (same subject, stream, sequence):
    the mirror keeps sequences, so the `Nats-Msg-Id` matches an unpartitioned runner's."""
    seq = msg.metadata.sequence.stream
    await js.publish(
        deadletter_subject(DECODE_STAGE, source_org_of(msg.subject)),
        msg.data,
        headers=deadletter_headers(error, msg.subject, EVENTS_STREAM, seq),
    )


@dataclass(frozen=True)
class PartitionProgress:
    """One partition's worker: what it has committed and what it has still to apply."""

    partition: Partition
    applied: int
    """Its committed position (SEND_EVENTS sequence; 0: nothing committed yet): every message
    of its partition up to it is applied."""
    pending_from: int | None = None
    """Where its partition may still owe messages (its position + 1; None: its consumer has
    nothing pending, or no bus)."""
    lag: int | None = None
    """Its messages not yet applied, as its consumer counts them (None: unknown)."""


@dataclass(frozen=True)
class Progress:
    """How far a read model has got: every SEND_EVENTS message up to `position` is applied."""

    position: int
    partitions: tuple[PartitionProgress, ...] = ()
    """Each partition's progress; empty for a read model kept by one unpartitioned runner."""

    @property
    def lag(self) -> int | None:
        """The partitions' lags added up (None if any is unknown, or for one runner)."""
        lags = [p.lag for p in self.partitions]
        return None if not lags or None in lags else sum(lag for lag in lags if lag is not None)

    @property
    def committed(self) -> dict[str, int]:
        """Each partition's committed position by name."""
        return {p.partition.name: p.applied for p in self.partitions}


class _Snapshots(Protocol):
    def snapshot(self) -> Any: ...


def partition_positions(rows: Iterable[tuple[str, int]]) -> dict[Partition, int]:
    """Pure: the `partition_position` rows of a store -> every partition's committed position.

    Every partition of the layout is listed, 0 for one whose worker has not committed yet. A
    store re-partitioned (3 workers, later 4) keeps the old layout's rows, which stop moving:
    the layout in use is the one holding the highest position."""
    committed = {Partition.named(name): int(seq) for name, seq in rows}
    if not committed:
        return {}
    count = max(committed, key=lambda p: (committed[p], p.count)).count
    return {Partition(i, count): committed.get(Partition(i, count), 0) for i in range(count)}


def committed_partitions(store: _Snapshots) -> dict[Partition, int]:
    """Each partition's committed position in a shared store ({}: no partitioned worker yet)."""
    with store.snapshot() as snapshot:
        return partition_positions(
            snapshot.query("SELECT partition_name, seq FROM partition_position")
        )


def complete_up_to(
    applied: Mapping[Partition, int], pending_from: Mapping[Partition, int | None],
    mirror_last: int,
) -> int:
    """Pure: the highest S with every message up to S applied (see the module docstring).

    `mirror_last` must have been read before the consumers said which partitions owe nothing
    (`pending_from` None)."""
    bound = min([mirror_last, *(n - 1 for n in pending_from.values() if n is not None)])
    return max(bound, min(applied.values()))


async def progress_of(
    store: Any, projection_name: str, js: JetStreamContext | None = None
) -> Progress:
    """How far `store` has got: one runner's position, or N partition workers' together.

    Asks the bus only for the mirror's and the workers' consumers' info (see the module).
    Without `js` (or with the bus unreachable) a partitioned store reports its lowest
    committed position, which is safe but may be behind, and no lags."""
    layout = await asyncio.to_thread(committed_partitions, store)
    if not layout:
        return Progress(await asyncio.to_thread(store.position))
    without_bus = Progress(
        min(layout.values()), tuple(PartitionProgress(p, a) for p, a in layout.items())
    )
    if js is None:
        return without_bus
    try:
        mirror_last = int((await js.stream_info(next(iter(layout)).stream)).state.last_seq)
        owed = {p: await _owed(js, p, projection_name) for p in layout}
    except (TimeoutError, nats.errors.Error):
        return without_bus
    applied = await asyncio.to_thread(committed_partitions, store)
    parts = [
        PartitionProgress(p, applied.get(p, 0), None if owed[p] == 0 else applied.get(p, 0) + 1,
                          owed[p])
        for p in layout
    ]
    pending = {part.partition: part.pending_from for part in parts}
    return Progress(
        complete_up_to({p.partition: p.applied for p in parts}, pending, mirror_last),
        tuple(parts),
    )


async def _owed(js: JetStreamContext, partition: Partition, projection_name: str) -> int | None:
    """The messages `partition`'s worker has not yet acked (None: its consumer does not exist,
    its worker has never run). Acked means committed: the runner acks after its commit."""
    try:
        info = await js.consumer_info(partition.stream, partition.durable(projection_name))
    except NotFoundError:
        return None
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


Bus = Callable[[], Awaitable[JetStreamContext | None]]
"""Gives a JetStream context when the bus can be reached, None otherwise."""


class ReadModelProgress:
    """`progress_of` one read model, asking `bus` for JetStream each time (None: without it)."""

    def __init__(self, store: Any, projection_name: str, bus: Bus | None = None) -> None:
        self.store = store
        self.projection_name = projection_name
        self._bus = bus

    async def __call__(self) -> Progress:
        js = await self._bus() if self._bus is not None else None
        return await progress_of(self.store, self.projection_name, js)
