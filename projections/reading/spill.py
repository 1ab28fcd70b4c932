"""A stream range spilled to partition files by person: what a rebuild folds each person from once.

Why. A live store folds events as they come, so a person it no longer remembers costs a re-read
and re-decode of their whole stored history, and at national scale (more people than a store
remembers) that cost per event grows with the population (`bench/findings.md`). A rebuild
knows the whole history up front: the reader writes every message to one of `count` files
chosen by a hash of the person key on its subject, each small enough to be read back whole and
grouped in memory (`PER_PARTITION` events), and a store then folds each person's sorted
history once (`projections.reading.folding`, `projections.readmodel.bulk`).

Each record is plain data, all that decoding needs: (stream sequence, subject, body, and for a
sealed body the name and value of the key that opens it, as `load_keys` found it while the
stream was read: None where the organisation erased the person). Files hold `marshal`ed lists
of records (the standard library's fastest serialiser for tuples of bytes, strings and
integers; the files are ours, written and read by one rebuild).
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from contracts.sealing import key_name
from contracts.subjects import parse_event_subject
from projections.reading.batch import SEALED_MARK, KeyTable, RawEvent

PER_PARTITION = 100_000
"""Events per partition file: read back whole, ~100-150 MB of records in a store's memory."""
CHUNK = 2_000
"""Records buffered per partition before they are written."""

SpilledEvent = tuple[int, str, bytes, str | None, bytes | None]
"""(stream sequence, subject, body, sealing key name or None, the key or None)."""


def partition_count(events: int) -> int:
    """How many files `events` messages are spilled to."""
    return max(1, -(-events // PER_PARTITION))


def person_of(subject: str) -> str:
    """The person key a subject ends with (what the server partitions by too)."""
    return subject.rsplit(".", 1)[-1]


def partition_index(person_key: str, count: int) -> int:
    return zlib.crc32(person_key.encode()) % count


@dataclass(frozen=True)
class SpillFiles:
    """The partition files of one spilled range, and the highest stream sequence read."""

    paths: tuple[Path, ...]
    events: int
    highest: int


class SpillWriter:
    """Appends messages to `count` partition files in `directory` (a new, empty directory)."""

    def __init__(self, directory: Path, count: int) -> None:
        self._paths = tuple(directory / f"partition-{i:04d}.marshal" for i in range(count))
        self._files: list[BinaryIO] = [path.open("wb") for path in self._paths]
        self._buffers: list[list[SpilledEvent]] = [[] for _ in self._paths]
        self._events = 0
        self._highest = 0

    def add(self, raws: Sequence[RawEvent], keys: KeyTable) -> None:
        """Spill one batch, each message with the key its sealed fields need (from `keys`)."""
        count = len(self._paths)
        for seq, subject, data in raws:
            name = _key_name(subject) if SEALED_MARK in data else None
            record = (seq, subject, data, name, None if name is None else keys.get(name))
            index = partition_index(person_of(subject), count)
            buffer = self._buffers[index]
            buffer.append(record)
            if len(buffer) >= CHUNK:
                self._flush(index)
            self._highest = max(self._highest, seq)
        self._events += len(raws)

    def close(self) -> SpillFiles:
        for index, buffer in enumerate(self._buffers):
            if buffer:
                self._flush(index)
        for file in self._files:
            file.close()
        return SpillFiles(self._paths, self._events, self._highest)

    def abort(self) -> None:
        for file in self._files:
            file.close()

    def _flush(self, index: int) -> None:
        marshal.dump(self._buffers[index], self._files[index])
        self._buffers[index].clear()


def _key_name(subject: str) -> str | None:
    try:
        org, _, person = parse_event_subject(subject)
    except ValueError:
        return None  # decoding rejects the subject
    return key_name(org, person)


def read_people(path: Path) -> Iterator[tuple[str, list[SpilledEvent]]]:
    """Each person of a partition file with their records in stream order, people sorted."""
    people: dict[str, list[SpilledEvent]] = {}
    with path.open("rb") as file:
        while True:
            try:
                chunk = marshal.load(file)
            except EOFError:
                break
            for record in chunk:
                person = person_of(record[1])
                if person in people:
                    people[person].append(record)
                else:
                    people[person] = [record]
    for person in sorted(people):
        records = people.pop(person)
        records.sort()
        yield person, records
