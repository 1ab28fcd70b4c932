"""The shared dataset read model in SQLite: each person's events, their derived facts, and the
stream position, written in one transaction per batch.

Why these tables:
- `person_events` keeps every event the dataset has seen, keyed by event id (so a duplicate is
  stored once), because a person's facts are re-folded from their whole history whenever a
  batch touches them (see `fold.py`). It also lets a new fold version re-derive every fact
  without replaying the stream (`FOLD_VERSION`).
- `ehc_plans` and `health_plan_flags` are the derived facts the indicators count.
- `projection_position` is the highest SEND_EVENTS sequence handled; it commits with the facts.

WAL lets the API read while the runner writes; `synchronous=NORMAL` may lose the last commit on
power loss, but then facts and position roll back together and the runner re-reads from the
older position (it recreates its consumer when the consumer is ahead of the store).
A PostgreSQL store implements the same methods: `apply_batch`/`position` (the runner's
`ProjectionStore`) and `snapshot()` (the `DatasetReadModel` the queries use).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from contracts import Envelope, decode, encode
from projections.dataset.facts import PersonFacts, facts_of
from projections.dataset.fold import fold_person
from projections.dataset.snapshot import SqliteSnapshot
from projections.projection import StreamEvent

FOLD_VERSION = 1
"""Bump when fold.py or facts.py change what is derived: facts are then re-derived on open."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_position (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    fold_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS person_events (
    event_id TEXT PRIMARY KEY,
    person_key TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS person_events_by_person ON person_events (person_key);
CREATE TABLE IF NOT EXISTS ehc_plans (
    person_key TEXT NOT NULL,
    la_code TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    primary_need TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    issued_month TEXT NOT NULL,
    requested_on TEXT,
    within_twenty_weeks INTEGER,
    exception TEXT,
    ceased_on TEXT,
    PRIMARY KEY (person_key, la_code, plan_id)
);
CREATE INDEX IF NOT EXISTS ehc_plans_by_month ON ehc_plans (issued_month, la_code);
CREATE TABLE IF NOT EXISTS health_plan_flags (
    person_key TEXT NOT NULL,
    la_code TEXT NOT NULL,
    spell INTEGER NOT NULL,
    set_on TEXT NOT NULL,
    cleared_on TEXT,
    PRIMARY KEY (person_key, la_code, spell)
);
"""


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    target = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    conn = sqlite3.connect(
        target, uri=read_only, isolation_level=None, check_same_thread=False, timeout=10
    )
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


class SqliteDatasetStore:
    """One writer (the runner, one batch at a time) and any number of readers (the API)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _connect(self.path)
        self._writer.execute("PRAGMA journal_mode = WAL")
        self._writer.execute("PRAGMA synchronous = NORMAL")
        self._writer.executescript(SCHEMA)
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO projection_position (id, seq, fold_version)"
                " VALUES (1, 0, ?)",
                (FOLD_VERSION,),
            )
            (version,) = conn.execute("SELECT fold_version FROM projection_position").fetchone()
            if version != FOLD_VERSION:
                self._refold_everyone(conn)

    def close(self) -> None:
        self._writer.close()

    def position(self) -> int:
        with self.snapshot() as snapshot:
            return snapshot.position()

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        target = max((seq for seq, _ in events), default=0) if position is None else position
        with self._transaction() as conn:
            (current,) = conn.execute("SELECT seq FROM projection_position").fetchone()
            fresh = {str(e.event_id): e for seq, e in events if seq > current}
            touched = set()
            for seq, envelope in events:
                if seq <= current:
                    continue
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO person_events VALUES (?, ?, ?, ?)",
                    (str(envelope.event_id), envelope.person_key, seq, encode(envelope)),
                ).rowcount
                if inserted:
                    touched.add(envelope.person_key)
            for person_key in sorted(touched):
                self._refold(conn, person_key, fresh)
            new_position = max(current, target)
            conn.execute("UPDATE projection_position SET seq = ?", (new_position,))
        return new_position

    @contextmanager
    def snapshot(self) -> Iterator[SqliteSnapshot]:
        """A consistent read of facts and position (one read transaction), for the queries."""
        conn = _connect(self.path, read_only=True)
        try:
            conn.execute("BEGIN")
            yield SqliteSnapshot(conn)
        finally:
            conn.close()

    def person_facts(self) -> dict[str, PersonFacts]:
        with self.snapshot() as snapshot:
            return snapshot.person_facts()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _refold(
        self, conn: sqlite3.Connection, person_key: str, decoded: dict[str, Envelope]
    ) -> None:
        """Re-derive one person's facts from all their stored events (see fold.py for why)."""
        rows = conn.execute(
            "SELECT event_id, body FROM person_events WHERE person_key = ?", (person_key,)
        ).fetchall()
        history = [decoded.get(event_id) or decode(body) for event_id, body in rows]
        facts = facts_of(person_key, fold_person(history))
        conn.execute("DELETE FROM ehc_plans WHERE person_key = ?", (person_key,))
        conn.execute("DELETE FROM health_plan_flags WHERE person_key = ?", (person_key,))
        conn.executemany(
            "INSERT INTO ehc_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    p.person_key, p.la_code, p.plan_id, p.case_id, p.primary_need,
                    p.issued_on.isoformat(), p.issued_month, _iso(p.requested_on),
                    None if p.within_twenty_weeks is None else int(p.within_twenty_weeks),
                    p.exception, _iso(p.ceased_on),
                )
                for p in facts.plans
            ],
        )
        conn.executemany(
            "INSERT INTO health_plan_flags VALUES (?, ?, ?, ?, ?)",
            [
                (f.person_key, f.la_code, f.spell, f.set_on.isoformat(), _iso(f.cleared_on))
                for f in facts.health_flags
            ],
        )

    def _refold_everyone(self, conn: sqlite3.Connection) -> None:
        people = [row[0] for row in conn.execute("SELECT DISTINCT person_key FROM person_events")]
        conn.execute("DELETE FROM ehc_plans")
        conn.execute("DELETE FROM health_plan_flags")
        for person_key in people:
            self._refold(conn, person_key, {})
        conn.execute("UPDATE projection_position SET fold_version = ?", (FOLD_VERSION,))


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
