"""Loading a fresh per-person store in bulk: each person's whole history folded once.

Why. The incremental path (`store.py`) must be ready for any event at any time, so it keeps
each person's events, remembers what it wrote and re-reads a history it no longer remembers.
A rebuild into a fresh store knows every person's history up front
(`projections.reading.spill`): it folds each person's sorted, deduplicated history once, as
`_fold` does, writes their facts and events with plain bulk inserts (`COPY` on PostgreSQL) in
large transactions, and builds the secondary indexes once everything is loaded. What it writes
is what the incremental path would hold for the same events, row for row (the audit digests
compare them: `tests/projections/readmodel/test_bulk_load.py`):

- `person_events`: the first-seen (lowest sequence) copy of each event id, encoded as the
  incremental path encodes it; an erased person's events with their personal fields withheld;
- every fact table: `derivation.facts(person, fold(sorted history))`;
- `projection_position`: the highest sequence handled, written last, so a load that stops part
  way leaves a store at position 0 that no one takes for a finished one.

The one thing a per-person grouping cannot see is an event id reused under two people: the
incremental path keeps the first and ignores the second. Here the `person_events` primary key
refuses the second insert, `DuplicateEventId` is raised and the store is emptied (`abandon`),
so the caller can rebuild it the incremental way (`projections.reading.rebuild`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from typing import Any

from contracts import Envelope, encode
from contracts.sealing import erased_people, forget_erased
from projections.readmodel import person_events
from projections.readmodel.database import Transaction, insert_rows, is_duplicate_key
from projections.readmodel.derivation import Derivation
from projections.readmodel.tables import FactTable

FLUSH_EVENTS = 20_000
"""Events whose rows are buffered before they are written (within one transaction)."""

SeqHistory = Sequence[tuple[int, Envelope]]
"""A person's events with their stream sequences, deduplicated, in any order."""


class StoreNotFresh(RuntimeError):
    """A bulk load writes into an empty store only."""


class DuplicateEventId(RuntimeError):
    """An event id is stored under two people: only the incremental path handles that."""


def _indexes(derivation: Derivation) -> list[tuple[str, str]]:
    return [*person_events.INDEX_DDL, *(ix for t in derivation.tables for ix in t.index_ddl)]


class BulkLoad:
    """One bulk load of a fresh `PersonHistoryStore`: `people()` per partition, then `finish`."""

    def __init__(self, db: Any, derivation: Derivation, *, joining: bool = False) -> None:
        """Check the store is fresh and drop its secondary indexes; `joining`: another
        connection already did (several workers loading one PostgreSQL store at once)."""
        self.db, self.derivation = db, derivation
        if joining:
            return
        with db.write() as tx:
            position = tx.execute("SELECT seq FROM projection_position").fetchone()[0]
            stored = tx.execute("SELECT 1 FROM person_events LIMIT 1").fetchone()
            partitions = tx.execute("SELECT 1 FROM partition_position LIMIT 1").fetchone()
            if position or stored or partitions:
                raise StoreNotFresh(
                    f"a bulk load needs an empty store; this one is at stream sequence {position}"
                )
            for name, _ in _indexes(derivation):
                tx.execute(f"DROP INDEX IF EXISTS {name}")

    @contextmanager
    def people(self) -> Iterator[PeopleWriter]:
        """One transaction: add people to the writer; committed when the block ends."""
        try:
            with self.db.write() as tx:
                writer = PeopleWriter(tx, self.derivation)
                yield writer
                writer.flush()
        except Exception as error:
            if is_duplicate_key(error):
                raise DuplicateEventId(
                    "an event id is stored under two people; rebuilding the incremental way"
                ) from error
            raise

    def finish(self, position: int) -> int:
        """Build the indexes and record the position: the store is complete."""
        with self.db.write() as tx:
            for _, create in _indexes(self.derivation):
                tx.execute(create)
            tx.execute("UPDATE projection_position SET seq = ?", (position,))
        return position

    def abandon(self) -> None:
        """Empty the store again (a fresh store at position 0, indexes built)."""
        with self.db.write() as tx:
            for table in (person_events.TABLE, "partition_position",
                          *(t.name for t in self.derivation.tables)):
                tx.execute(f"DELETE FROM {table}")
            for _, create in _indexes(self.derivation):
                tx.execute(create)
            tx.execute("UPDATE projection_position SET seq = 0")


class PeopleWriter:
    """Folds each person once and buffers their rows; writes them every `FLUSH_EVENTS` events."""

    def __init__(self, tx: Transaction, derivation: Derivation) -> None:
        self._tx, self._derivation = tx, derivation
        self._tables: tuple[FactTable, ...] = derivation.tables
        self._facts: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in self._tables}
        self._events: list[tuple[Any, ...]] = []
        self.cpu = {"fold": 0.0, "encode": 0.0, "write": 0.0}
        """CPU seconds by phase, for the rebuild's figures (`folding.CPU_PHASES`)."""

    def add(self, person: str, history: SeqHistory) -> None:
        """A person's whole history (each event id once): their facts and events, as rows."""
        started = time.process_time()
        order, derivation = self._derivation.order, self._derivation
        keyed = sorted(((order(e), seq, e) for seq, e in history), key=_first)
        envelopes = [e for _, _, e in keyed]
        if erased_people(envelopes):
            envelopes = forget_erased(envelopes)
        state = reduce(derivation.step, envelopes, derivation.initial)
        rows = derivation.rows
        for table in self._tables:
            self._facts[table.name].extend(map(table.to_sql, rows[table.name](person, state)))
        folded = time.process_time()
        self._events.extend(
            (str(e.event_id), person, seq, encode(e).decode())
            for (_, seq, _), e in zip(keyed, envelopes, strict=True)
        )
        self.cpu["fold"] += folded - started
        self.cpu["encode"] += time.process_time() - folded
        if len(self._events) >= FLUSH_EVENTS:
            self.flush()

    def flush(self) -> None:
        started, tx = time.process_time(), self._tx
        # In stream order, as the incremental path inserts them: a person's rows then come back
        # in the same order from either store (SQLite returns them by rowid).
        self._events.sort(key=_seq)
        insert_rows(tx, person_events.TABLE, person_events.COLUMNS, self._events)
        self._events.clear()
        for table in self._tables:
            rows = self._facts[table.name]
            insert_rows(tx, table.name, [c.name for c in table.columns], rows)
            rows.clear()
        self.cpu["write"] += time.process_time() - started


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _seq(row: tuple[Any, ...]) -> Any:
    return row[2]
