"""One store rebuilt by several fold workers at once: the scale-out of a national rebuild.

Why. Folding each person once makes people independent of one another, and the spill has
already cut them into partition files (`spill.py`), so N worker processes can fold N files at a
time into one store, where the database takes concurrent writers: PostgreSQL (each worker its
own connection and transactions; people never overlap between files, so neither do their
rows). SQLite has one writer at a time, so there a second worker only waits for the lock.

`FoldWorkers` is an `Applier` for `rebuild_all`: the first worker begins the load (checks the
store is fresh, drops the indexes), the others join it, the partition files are shared out as
workers become free (`rebuild._grouped`), and the first one finishes (indexes, position). A
store that is not fresh is applied the incremental way by the first worker alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projections.reading.applying import Applied, Applier
from projections.reading.batch import RawEvent
from projections.reading.folding import Loaded


class FoldWorkers:
    """Several appliers (`StoreWorker`s) of one store, folding partition files side by side."""

    def __init__(self, workers: Sequence[Applier]) -> None:
        if not workers:
            raise ValueError("FoldWorkers needs at least one worker")
        self.workers = list(workers)

    @property
    def first(self) -> Applier:
        return self.workers[0]

    def position(self) -> int:
        return self.first.position()

    def decode_and_apply(self, raws: Sequence[RawEvent], **options: Any) -> Applied:
        return self.first.decode_and_apply(raws, **options)

    def bulk_begin(self) -> bool:
        if not self.first.bulk_begin():
            return False
        for worker in self.workers[1:]:
            worker.bulk_join()
        return True

    def bulk_join(self) -> None:
        for worker in self.workers:
            worker.bulk_join()

    def bulk_partition(self, path: Path, **options: Any) -> Loaded | None:
        return self.first.bulk_partition(path, **options)

    def bulk_finish(self, position: int) -> int:
        return self.first.bulk_finish(position)

    def bulk_abandon(self) -> None:
        self.first.bulk_abandon()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
