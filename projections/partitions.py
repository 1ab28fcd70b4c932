"""Scaling a projection out: N workers, each owning the people of one partition.

Why partition by person. A read model's facts are derived per person (`readmodel/store.py`),
so people are the unit that must be applied in order and by one writer; different people are
independent. The server splits the stream for us: SEND_EVENTS_P<n> mirrors SEND_EVENTS with
every subject rewritten to `send.part.<n>.<i>.<org>.<family>.<name>.<person_key>`, where `i` is
nats-server's `partition(n)` of the person key (`services.bus.streams`). Worker `i` runs the
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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import DecodeError
from contracts.subjects import deadletter_subject, event_subject_of, partition_events
from projections.deadletter import DECODE_STAGE, deadletter_headers, source_org_of
from projections.projection import StreamEvent, durable_name
from services.bus.streams import EVENTS_STREAM, partitioned_stream_name

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
        return f"p{self.index}-of-{self.count}"

    @property
    def stream(self) -> str:
        return partitioned_stream_name(self.count)

    @property
    def filter_subject(self) -> str:
        return partition_events(self.count, self.index)

    def durable(self, projection_name: str) -> str:
        return f"{durable_name(projection_name)}-{self.name}"

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
