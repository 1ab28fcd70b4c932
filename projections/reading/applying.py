"""Decoding a batch and applying it to a store in one step, wherever the store runs.

Why one function: the live runner and the rebuild hand a store the same thing (the messages'
`RawEvent`s and the sealing keys they need) and want the same answer back (`Applied`: the new
position, how many events, what was invalid, and a summary for the live feed), whether the
store is in a thread of their process (`LocalApplier`) or in a worker process of its own
(`projections.reading.store_worker.StoreWorker`, which calls `decode_and_apply` there). Everything
crossing that boundary is plain data: bytes, strings, numbers.

Claims on a case, plan, referral or placement. An event acting on one its source never opened
for that person (`runtime.ownership.OpenedReferences`) is judged here, not in `decode_batch`,
because the rule needs what came before: what the person's stored history opened
(`opened_references`) and what this batch opened earlier. Such an event is invalid
(`not_permitted`) like any other the ownership rule refuses: dead-lettered, never applied. A
store that keeps no history (no `opened_references`) is not asked.

Invalid messages. Unless told to commit anyway, a batch with an invalid message is not
committed: the live runner must first copy it to the dead-letter stream (nothing is ever
dropped), then asks again with `commit_invalid=True`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contracts import DecodeError, Envelope
from projections.reading.batch import EventFilter, KeyTable, RawEvent, decode_batch
from projections.reading.folding import Loaded, load_partition
from projections.reading.projection import ProjectionStore, StreamEvent
from projections.readmodel import heap
from projections.readmodel.bulk import BulkLoad, DuplicateEventId, StoreNotFresh
from runtime.ownership import REFERS, OpenedReferences

MAX_MONTHS = 24
"""Months a summary lists (the latest ones): keeps live-feed announcements small."""


@dataclass(frozen=True)
class Summary:
    """What a committed batch touched: for the live feed's announcement
    (`projections.serving.live`)."""

    events: int = 0
    people: int = 0
    months: tuple[str, ...] = ()
    source_orgs: tuple[str, ...] = ()


def summarise(envelopes: Sequence[Envelope]) -> Summary:
    months = sorted(f"{y:04d}-{m:02d}"
                    for y, m in {(e.occurred_at.year, e.occurred_at.month) for e in envelopes})
    return Summary(
        events=len(envelopes), people=len({e.person_key for e in envelopes}),
        months=tuple(months[-MAX_MONTHS:]),
        source_orgs=tuple(sorted({e.source_org for e in envelopes})),
    )


@dataclass
class Applied:
    """The outcome of `decode_and_apply`."""

    position: int | None
    """The store's position after the commit; None when nothing was committed."""
    highest: int = 0
    """The highest sequence the batch handled (applied, invalid or filtered out)."""
    applied: int = 0
    filtered_out: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    """(index in the batch, `DecodeError.reason`, message) of each event that failed to decode."""
    summary: Summary = Summary()
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of the applying thread by phase: `decode` (bytes to checked envelopes,
    ownership judged) and `store` (fold, SQL, commit, `heap.settle`): the runner sums them."""


def decode_and_apply(
    store: ProjectionStore,
    raws: Sequence[RawEvent],
    *,
    after: int,
    until: int | None = None,
    accept: EventFilter | None = None,
    keys: KeyTable | None = None,
    commit_invalid: bool = False,
    complete_to: int | None = None,
) -> Applied:
    """Decode the events past `after` (up to `until`) and apply them in one transaction.

    `complete_to`: a partition's worker knows its next message comes after this sequence
    (`partitions.Partition.complete_to`), so it commits that as its position: how far its
    partition is complete, which the API reads instead of the mirror's messages.

    A store with `needs_subject` (the feed store) has the events it cannot use left undecoded.
    """
    started = time.thread_time()
    batch = decode_batch(raws, after=after, until=until, accept=accept, keys=keys,
                         needed=getattr(store, "needs_subject", None))
    batch.events, unopened = _opened_first(store, batch.events)
    decoded = time.thread_time()
    by_seq = {raw.seq: index for index, raw in enumerate(raws)}
    refused = [(by_seq[seq], error) for seq, error in unopened]
    invalid = [(index, error.reason, str(error))
               for index, error in sorted([*batch.invalid, *refused], key=lambda r: r[0])]
    outcome = Applied(None, batch.highest, 0, batch.filtered_out, invalid,
                      cpu={"decode": decoded - started})
    if batch.highest <= after or (invalid and not commit_invalid):
        return outcome
    outcome.position = store.apply_batch(batch.events, max(batch.highest, complete_to or 0))
    outcome.applied = len(batch.events)
    outcome.summary = summarise([e.envelope for e in batch.events])
    outcome.cpu["store"] = time.thread_time() - decoded
    return outcome


def _opened_first(
    store: ProjectionStore, events: list[StreamEvent]
) -> tuple[list[StreamEvent], list[tuple[int, DecodeError]]]:
    """`events` without those acting on what their source never opened, and those (by seq)."""
    referring = [e for e in events if e.envelope.type in REFERS]
    lookup = getattr(store, "opened_references", None)
    if not referring or lookup is None:
        return events, []
    opened = OpenedReferences(lookup({e.envelope.person_key for e in referring}))
    kept: list[StreamEvent] = []
    refused: list[tuple[int, DecodeError]] = []
    for event in events:
        why = opened.judge_envelope(event.envelope)
        if why is None:
            kept.append(event)
        else:
            refused.append((event.seq, DecodeError("not_permitted", why)))
    return kept, refused


class Applier(Protocol):
    """A store as the runner and the rebuild drive it (blocking calls: run them in a thread)."""

    def position(self) -> int: ...

    def decode_and_apply(
        self,
        raws: Sequence[RawEvent],
        *,
        after: int,
        until: int | None = None,
        accept: EventFilter | None = None,
        keys: KeyTable | None = None,
        commit_invalid: bool = False,
        complete_to: int | None = None,
    ) -> Applied: ...

    def bulk_begin(self) -> bool:
        """Start a bulk load (`folding`): False if the store cannot (not fresh, or no bulk path)."""
        ...

    def bulk_join(self) -> None:
        """Take part in a bulk load another worker began on the same store (PostgreSQL)."""
        ...

    def bulk_partition(self, path: Path, **options: Any) -> Loaded | None:
        """Fold one spilled partition file (`folding.load_partition`'s options); None when an
        event id under two people means the store must be emptied (`bulk_abandon`)."""
        ...

    def bulk_finish(self, position: int) -> int: ...

    def bulk_abandon(self) -> None:
        """Empty the store again, for the incremental path."""
        ...

    def close(self) -> None: ...


class LocalApplier:
    """A store in this process: decoded and applied in the caller's thread."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store
        self._bulk: BulkLoad | None = None

    def position(self) -> int:
        return self.store.position()

    def decode_and_apply(self, raws: Sequence[RawEvent], **options: Any) -> Applied:
        """`decode_and_apply(self.store, raws, **options)` (the options are its keywords)."""
        return decode_and_apply(self.store, raws, **options)

    def bulk_begin(self) -> bool:
        start = getattr(self.store, "bulk_load", None)
        if start is None:
            return False
        try:
            self._bulk = start()
        except StoreNotFresh:
            return False
        return True

    def bulk_join(self) -> None:
        self._bulk = self.store.bulk_join()  # type: ignore[attr-defined]

    def bulk_partition(self, path: Path, **options: Any) -> Loaded | None:
        try:
            loaded = load_partition(self._started(), path, **options)
        except DuplicateEventId:
            return None
        heap.settle()
        return loaded

    def bulk_finish(self, position: int) -> int:
        bulk, self._bulk = self._started(), None
        return bulk.finish(position)

    def bulk_abandon(self) -> None:
        bulk, self._bulk = self._started(), None
        bulk.abandon()

    def _started(self) -> BulkLoad:
        if self._bulk is None:
            raise RuntimeError("no bulk load begun (bulk_begin or bulk_join first)")
        return self._bulk

    def close(self) -> None:
        self.store.close()


def applier_for(store: ProjectionStore | Applier) -> Applier:
    """A worker (or anything with `decode_and_apply`) as it is; a plain store in a thread."""
    if hasattr(store, "decode_and_apply"):
        return store  # type: ignore[return-value]
    return LocalApplier(store)  # type: ignore[arg-type]
