"""Folding a spilled stream range into a fresh store, each person once: the rebuild's fast path.

Why here. Decoding is the reading path's (`batch.py`: the same `decode`, keys and ownership rule
as the live runner and the incremental rebuild); what a store does with a person's decoded
history is the store's (`readmodel.bulk`). Between the two: a partition file of the spill
(`spill.py`) is read back whole, grouped by person, and each person's records are decoded
with the keys found while the stream was read, filtered (`accept`), deduplicated by event id
(the first copy on the stream wins, as in the incremental path) and handed to the store. One
transaction per partition file.

Counting is the incremental rebuild's: `applied` counts every event decoded and accepted
(duplicates too), `filtered_out` those `accept` left out, `invalid` each message that failed
to decode (by stream sequence, with the reason), and the position is the highest sequence
handled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from uuid import UUID

from contracts import DecodeError, Envelope, decode
from projections.reading.batch import EventFilter, admitted
from projections.reading.spill import SpilledEvent, read_people
from projections.readmodel.bulk import BulkLoad
from runtime.ownership import OpenedReferences


class BulkStore(Protocol):
    def bulk_load(self) -> BulkLoad: ...


@dataclass
class Loaded:
    """What one partition file (or a whole load) held for a store."""

    applied: int = 0
    filtered_out: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    """(stream sequence, `DecodeError.reason`) of each message that could not be decoded."""
    highest: int = 0
    """The highest sequence handled (applied, invalid or filtered out)."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds of this process by phase (`CPU_PHASES`): where a rebuild's floor is."""

    def add(self, other: Loaded) -> None:
        self.applied += other.applied
        self.filtered_out += other.filtered_out
        self.invalid.extend(other.invalid)
        self.highest = max(self.highest, other.highest)
        for phase, seconds in other.cpu.items():
            self.cpu[phase] = self.cpu.get(phase, 0.0) + seconds


CPU_PHASES = ("read", "decode", "fold", "encode", "write")
"""A partition's CPU by phase: reading the file and grouping it by person; decoding, the
ownership rule, filtering and deduplicating; sorting and folding each person and making their
fact rows; encoding the stored bodies; the bulk inserts (`PeopleWriter.cpu`)."""


def load_partition(
    load: BulkLoad, path: Path, *, until: int | None = None, accept: EventFilter | None = None,
) -> Loaded:
    """Fold every person of one partition file into the store (one transaction)."""
    loaded, clock = Loaded(), time.process_time
    read = decode = 0.0
    with load.people() as writer:
        people, started = read_people(path), clock()
        for person, records in people:
            grouped = clock()
            history = decoded_history(records, until, accept, loaded)
            decoded = clock()
            read, decode = read + grouped - started, decode + decoded - grouped
            if history:
                writer.add(person, history)
            started = clock()
        read += clock() - started
    loaded.cpu = {"read": read, "decode": decode, **writer.cpu}
    return loaded


def decoded_history(
    records: Sequence[SpilledEvent], until: int | None, accept: EventFilter | None,
    loaded: Loaded,
) -> list[tuple[int, Envelope]]:
    """One person's records (stream order) decoded, accepted and each event id once; an event
    acting on what its source had not opened before it (`runtime.ownership.OpenedReferences`)
    is invalid (`not_permitted`), as on the incremental path."""
    lookup = {name: key for *_, name, key in records if name is not None}.get
    seen: set[UUID] = set()
    opened = OpenedReferences()  # a fresh store: nothing opened before
    history: list[tuple[int, Envelope]] = []
    for seq, subject, data, _, _ in records:
        if until is not None and seq > until:
            continue
        loaded.highest = max(loaded.highest, seq)
        try:
            envelope = admitted(decode(data, subject=subject, keys=lookup))
        except DecodeError as error:
            loaded.invalid.append((seq, error.reason))
            continue
        if accept is not None and not accept(envelope):
            loaded.filtered_out += 1
            continue
        if opened.judge_envelope(envelope) is not None:
            loaded.invalid.append((seq, "not_permitted"))  # as `applying._opened_first`
            continue
        loaded.applied += 1
        event_id = envelope.event_id
        if event_id not in seen:
            seen.add(event_id)
            history.append((seq, envelope))
    return history
