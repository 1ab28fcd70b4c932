"""A read model kept per person: each person's events, the facts derived from them, and the
stream position, written in one transaction per batch. The dataset and the tracker use it.

Why per person, derived from the whole history. Events reach the bus out of order across
organisations and may be duplicated or redelivered. Rather than make every fold step
commutative, the store keeps each person's events (deduplicated by event id) and holds, for
every person, the facts `derivation.derive(their stored events)`: the fold of their events
sorted into history order (`derivation.py`). So the stored facts are, by construction, those of
a fold from scratch, whatever order or how many times the events arrived.

How that stays cheap. A batch is grouped by person, so each touched person is derived once per
batch, however large the batch (the runner's catch-up and `rebuild` send thousands of events).
The store remembers the people it wrote last (`people.py`: fold state and fact rows; bounded,
LRU), valid while the number of events stored for the person is unchanged:
- new events that sort after the person's last one: one `step` each from the kept state, and
  only the tables whose inputs the steps changed are computed again (`Derivation.inputs`);
- an event out of history order, or a person not remembered: their stored history is read,
  decoded and folded whole, as before;
- a person never seen: a fold of the batch's events alone, nothing to delete.
Then only the fact rows that changed are written (`writes.py`), one `executemany` per table per
batch, and the batch's new events are inserted with one `executemany`, each encoded once.
Duplicates (an event id already stored) change nothing. Measured with the partnership
population (`bench/findings.md`, "Projections").

- `person_events`: every event seen, keyed by event id (a duplicate is stored once). It also lets
  a new derivation version re-derive every fact without replaying the stream.
- the derivation's fact tables: what the queries count.
- `projection_position`: the highest SEND_EVENTS sequence handled and the derivation version;
  it commits with the facts, so the two never disagree. Events at or below the position are a
  redelivery and change nothing. What the store remembers is updated only once a batch has
  committed, so a failed batch leaves it describing what is stored.
- `partition_position`: the same, per partition, when N workers share the store
  (`projections.reading.partitions`): each commits the highest sequence of *its* partition it
  handled, so a replacement worker resumes where the dead one committed. People are disjoint across
  partitions, so the workers' per-person writes never overlap (and a person another worker
  wrote meanwhile has a different stored count, so a worker's memory of them is not used).

Erasure. Events are stored as decoded, personal fields opened with the person's key. Once a
person's history holds `person.erased`, their stored events are rewritten with every personal
field withheld (`contracts.sealing.forget_erased`) and their facts re-derived from that, in the
same transaction: the live read model forgets the birth month and conditions, exactly as a
rebuild made after the erasure (no key left) decodes them, while facts that need no personal
field (plans, requests, referrals) stay. An erased person is never remembered in memory; their
every later batch reads their stored (withheld) history.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import reduce
from pathlib import Path
from typing import Any

from contracts import Envelope
from contracts.sealing import ERASURE_TYPE, erased_people
from projections.reading.projection import StreamEvent
from projections.readmodel import heap, person_events
from projections.readmodel.bulk import BulkLoad
from projections.readmodel.database import Database, Transaction, open_database
from projections.readmodel.derivation import Derivation
from projections.readmodel.people import FactValues, KnownPeople, KnownPerson
from projections.readmodel.person_events import History
from projections.readmodel.writes import FactWrites, fact_values
from runtime.ownership import Opened

__all__ = ["Derivation", "PersonHistoryStore", "Snapshot"]

_META = (
    "CREATE TABLE IF NOT EXISTS projection_position ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, fold_version INTEGER NOT NULL)",
    *person_events.DDL,
    "CREATE TABLE IF NOT EXISTS partition_position ("
    " partition_name TEXT PRIMARY KEY, seq BIGINT NOT NULL)",
)
_NO_FACTS_YET = -1
_REDERIVED_AT_ONCE = 1_000
"""People re-derived per write of their facts when the derivation's version changes."""


class Snapshot:
    """One consistent read of a store: its facts and the position they reflect."""

    def __init__(self, tx: Transaction, derivation: Derivation) -> None:
        self._tx = tx
        self._derivation = derivation

    def position(self) -> int:
        return int(self._tx.execute("SELECT seq FROM projection_position").fetchone()[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Portable SQL with `?` placeholders over the fact tables."""
        return list(self._tx.execute(sql, params).fetchall())

    def rows(self, table: str, where: str = "", params: Sequence[Any] = ()) -> list[Any]:
        """The fact rows of `table` (optionally `WHERE …`), as the derivation's dataclasses."""
        fact = self._derivation.table(table)
        sql = f"SELECT {fact.column_list} FROM {fact.name}{f' WHERE {where}' if where else ''}"
        return [fact.from_sql(row) for row in self._tx.execute(sql, params).fetchall()]

    def typed_events(self, people: Iterable[str],
                     types: Sequence[str]) -> list[tuple[str, str, str]]:
        """(person key, type, source org) of the stored events of `people` of those types."""
        return person_events.typed_events(self._tx, people, types)

    def facts(self) -> dict[str, list[Any]]:
        """Every stored fact by table, sorted: for comparing with a from-scratch derivation."""
        return {t.name: sorted(self.rows(t.name), key=repr) for t in self._derivation.tables}


class PersonHistoryStore:
    """One writer (the runner, one batch at a time) and any number of readers (the API)."""

    def __init__(
        self, db: Database, derivation: Derivation, *, people: KnownPeople | None = None
    ) -> None:
        self.db = db
        self.derivation = derivation
        self.people = KnownPeople() if people is None else people
        self._writing = threading.Lock()
        with db.write() as tx:
            for statement in _META:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO projection_position (id, seq, fold_version) VALUES (1, 0, ?)"
                " ON CONFLICT DO NOTHING",
                (_NO_FACTS_YET,),
            )
            (version,) = tx.execute("SELECT fold_version FROM projection_position").fetchone()
            if version != derivation.version:
                self._rederive_everyone(tx)
            for table in derivation.tables:  # (a bulk load that stopped part way lacks them)
                for _, create in table.index_ddl:
                    tx.execute(create)

    def bulk_load(self) -> BulkLoad:
        """Start loading this fresh store in bulk (`readmodel.bulk`: a rebuild's fast path)."""
        return BulkLoad(self.db, self.derivation)

    def bulk_join(self) -> BulkLoad:
        """Load partitions into a store another worker began loading (PostgreSQL: the workers'
        people are disjoint, and each commits its own transactions)."""
        return BulkLoad(self.db, self.derivation, joining=True)

    @classmethod
    def open(
        cls, location: Path | str, derivation: Derivation, *, schema: str
    ) -> PersonHistoryStore:
        """At a SQLite path, or in `schema` of the PostgreSQL database a DSN names."""
        return cls(open_database(location, schema=schema), derivation)

    def close(self) -> None:
        self.db.close()

    def position(self, partition: str | None = None) -> int:
        """The committed position: of the whole stream, or of one `partition` (0 if none yet)."""
        if partition is None:
            with self.snapshot() as snapshot:
                return snapshot.position()
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT seq FROM partition_position WHERE partition_name = ?", (partition,)
            ).fetchone()
        return int(row[0]) if row else 0

    def apply_batch(
        self,
        events: Sequence[StreamEvent],
        position: int | None = None,
        partition: str | None = None,
    ) -> int:
        """`ProjectionStore.apply_batch`, against `partition`'s own position when given."""
        target = max((seq for seq, _ in events), default=0) if position is None else position
        with self._writing:
            with self.db.write() as tx:
                current = self._locked_position(tx, partition)
                new, counts = person_events.store_new(tx, events, current)
                learned = self._derive(tx, new, counts)
                new_position = max(current, target)
                if partition is None:
                    tx.execute("UPDATE projection_position SET seq = ?", (new_position,))
                else:
                    tx.execute(
                        "UPDATE partition_position SET seq = ? WHERE partition_name = ?",
                        (new_position, partition),
                    )
            for person, known in learned.items():
                if known is None:
                    self.people.forget(person)
                else:
                    self.people.put(person, known)
            heap.settle()
        return new_position

    def opened_references(self, people: Iterable[str]) -> set[Opened]:
        """What `people`'s stored events opened (`runtime.ownership.Opened`).

        Read on the writer's connection, between batches: the runner asks before each batch
        it applies, and a reader's connection is opened per read (SQLite parses the schema
        again each time): ~0.6-1 ms of CPU per live batch, most of a small batch's cost."""
        with self._writing, self.db.write() as tx:
            return person_events.opened_references(tx, people)

    def _locked_position(self, tx: Transaction, partition: str | None) -> int:
        if partition is None:
            sql, params = "SELECT seq FROM projection_position", ()
        else:
            tx.execute(
                "INSERT INTO partition_position (partition_name, seq) VALUES (?, 0)"
                " ON CONFLICT DO NOTHING",
                (partition,),
            )
            sql, params = "SELECT seq FROM partition_position WHERE partition_name = ?", (
                partition,
            )
        return int(tx.execute(f"{sql}{self.db.lock_position}", params).fetchone()[0])

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent read of facts and position (one read transaction), for the queries."""
        with self.db.read() as tx:
            yield Snapshot(tx, self.derivation)

    def facts(self) -> dict[str, list[Any]]:
        with self.snapshot() as snapshot:
            return snapshot.facts()

    def _derive(
        self, tx: Transaction, new: Mapping[str, list[Envelope]], counts: Mapping[str, int]
    ) -> dict[str, KnownPerson | None]:
        """Write the facts of every person with `new` events; what to remember of each."""
        order, writes = self.derivation.order, FactWrites(self.derivation.tables)
        learned: dict[str, KnownPerson | None] = {}
        to_read: dict[str, KnownPerson | None] = {}
        remembered = self.people.get
        for person in sorted(new):
            count = counts.get(person, 0)
            known = remembered(person)
            if known is not None and known.count != count:
                known = None  # not what is stored now: written by another writer meanwhile
            events = new[person]
            arrived = person_events.in_order(events, order)
            erasing = any(e.type == ERASURE_TYPE for e in events)
            if count == 0 and not erasing:
                learned[person] = self._fold(tx, person, arrived, writes, before={})
            elif known is not None and not erasing and arrived[0][0] > known.last:
                learned[person] = self._step(person, known, arrived, writes)
            else:
                to_read[person] = known
        for person, history in person_events.stored_histories(tx, to_read, new, order).items():
            known = to_read[person]
            before = None if known is None else known.facts
            learned[person] = self._fold(tx, person, history, writes, before)
        writes.flush(tx)
        return learned

    def _step(
        self, person: str, known: KnownPerson, arrived: History, writes: FactWrites
    ) -> KnownPerson:
        """The fast path: events that sort after everything the person already has."""
        step, state = self.derivation.step, known.state
        for _, event in arrived:
            state = step(state, event)
        facts = known.facts
        changed = self.derivation.changed_tables(known.state, state)
        if changed:  # else the rows stay as they are, and so does the mapping of them
            facts = dict(facts)
            rows = self.derivation.rows
            for table in changed:
                facts[table.name] = tuple(map(table.to_sql, rows[table.name](person, state)))
            writes.change(known.facts, facts, changed)
        return KnownPerson(known.count + len(arrived), arrived[-1][0], state, facts)

    def _fold(
        self,
        tx: Transaction,
        person: str,
        history: History,
        writes: FactWrites,
        before: FactValues | None,
    ) -> KnownPerson | None:
        """Fold a person's whole (sorted) history; `before`: their stored facts, if known.
        Returns None for an erased person, whose stored events are rewritten withheld."""
        envelopes = [e for _, e in history]
        erased = bool(erased_people(envelopes))
        if erased:
            envelopes = person_events.withhold_erased(tx, envelopes)
        state = reduce(self.derivation.step, envelopes, self.derivation.initial)
        facts = fact_values(self.derivation.tables, self.derivation.facts(person, state))
        if before is None:
            writes.replace_person(person, facts)
        else:
            writes.change(before, facts)
        if erased:
            return None
        return KnownPerson(len(history), history[-1][0], state, facts)

    def _rederive_everyone(self, tx: Transaction) -> None:
        """A new derivation version: new fact tables, derived from every stored event."""
        self.people.clear()
        for table in self.derivation.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table.name}")
            for statement in table.ddl():
                tx.execute(statement)
        people = [row[0] for row in tx.execute("SELECT DISTINCT person_key FROM person_events")]
        order = self.derivation.order
        for start in range(0, len(people), _REDERIVED_AT_ONCE):
            chunk = people[start : start + _REDERIVED_AT_ONCE]
            writes = FactWrites(self.derivation.tables)
            for person, history in person_events.stored_histories(tx, chunk, {}, order).items():
                self._fold(tx, person, history, writes, before={})
            writes.flush(tx)
        tx.execute("UPDATE projection_position SET fold_version = ?", (self.derivation.version,))

