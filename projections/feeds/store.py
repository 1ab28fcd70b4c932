"""The feed process's store: cohort state, the deliveries (the delivery audit) and the point each
version of the agreement took effect, with the stream position, in one SQLite file.

Why one transaction: a batch's membership changes, its deliveries and the stream position are
committed together (`apply_batch`, the `ProjectionStore` protocol the shared runner drives), so
a crash never loses a delivery nor decides one twice. Publishing is separate
(`projections.feeds.publisher`): a delivery is recorded first and marked delivered once
SEND_FEEDS acknowledged it; a delivery published but not yet marked when the process died is
published again with the same `Nats-Msg-Id`, which the stream's duplicate window drops.

Deliveries are unique by (recipient, event id): a recipient entitled to an event by two clauses
receives it once, under the first clause that entitled it. They are never deleted: they are who
was sent what, by which clause, when (`delivered_at`, and `feed_seq` on SEND_FEEDS).

Agreement versions (`adopt`): the first agreement takes effect after the last event already on
SEND_EVENTS, and a changed one after the store's position, so neither reaches events published
before it; a clause whose cohort definition changed starts with an empty cohort. Only an explicit
backfill decision (its reason recorded, `sendx feeds --backfill REASON`) folds the history again
from the start, which delivers what the agreement now covers and was not yet delivered.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from contracts.agreements import Agreement
from contracts.subjects import EVENT_PREFIX
from contracts.topology import Organisation
from projections.feeds.cohort import Changes, CohortState, Held, apply
from projections.reading.projection import StreamEvent
from runtime.partnership import DEMO_PARTNERSHIP

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_position (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER);
CREATE TABLE IF NOT EXISTS members (clause_id TEXT, person_key TEXT,
    PRIMARY KEY (clause_id, person_key));
CREATE TABLE IF NOT EXISTS held (clause_id TEXT, person_key TEXT, seq INTEGER, event_id TEXT,
    subject TEXT, PRIMARY KEY (clause_id, person_key, seq));
CREATE TABLE IF NOT EXISTS deliveries (
    recipient TEXT, event_id TEXT, clause_id TEXT, agreement_id TEXT, seq INTEGER,
    subject TEXT, person_key TEXT, source_org TEXT, event_type TEXT, decided_at TEXT,
    feed_seq INTEGER, delivered_at TEXT, PRIMARY KEY (recipient, event_id));
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (seq) WHERE feed_seq IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_person ON deliveries (person_key);
CREATE TABLE IF NOT EXISTS epochs (
    n INTEGER PRIMARY KEY AUTOINCREMENT, agreement_id TEXT, digest TEXT, effective_after INTEGER,
    backfill_reason TEXT, clauses TEXT, recorded_at TEXT);
"""


@dataclass(frozen=True)
class Epoch:
    """One version of the agreement and the stream sequence after which it applies."""

    n: int
    agreement_id: str
    digest: str
    effective_after: int
    backfill_reason: str | None
    recorded_at: str


@dataclass(frozen=True)
class PendingDelivery:
    recipient: str
    event_id: str
    clause_id: str
    agreement_id: str
    seq: int
    subject: str


@dataclass(frozen=True)
class DeliveryRecord:
    """Who was sent which event, by which clause, when (the delivery audit)."""

    recipient: str
    event_id: str
    event_type: str
    source_org: str
    person_key: str
    clause_id: str
    agreement_id: str
    seq: int
    decided_at: str
    feed_seq: int | None
    delivered_at: str | None


_EVENT_ROOT = EVENT_PREFIX + "."


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FeedStore:
    """The `ProjectionStore` the feed runner drives; `adopt` an agreement before applying."""

    def __init__(
        self, path: Path | str, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP
    ) -> None:
        self._partnership = tuple(partnership)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._agreement: Agreement | None = None
        self._state: CohortState | None = None

    # --- agreement versions -------------------------------------------------------------
    def epochs(self) -> list[Epoch]:
        with self._lock:
            rows = self._db.execute(
                "SELECT n, agreement_id, digest, effective_after, backfill_reason, recorded_at "
                "FROM epochs ORDER BY n"
            ).fetchall()
        return [Epoch(*row) for row in rows]

    def adopt(
        self, agreement: Agreement, stream_last_seq: int, backfill: str | None = None
    ) -> Epoch:
        """Apply `agreement` from a recorded point (see the module docstring); returns it."""
        clauses = {c.id: c.cohort_digest() for c in agreement.clause}
        with self._lock:
            last = self._db.execute(
                "SELECT n, digest, clauses FROM epochs ORDER BY n DESC LIMIT 1"
            ).fetchone()
            position = self._position()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if last is not None and last[1] == agreement.digest and backfill is None:
                    self._db.execute("COMMIT")
                    self._load(agreement)
                    return self._epoch(last[0])
                if backfill is not None:
                    effective, kept = 0, set()
                elif last is None:
                    effective, kept = max(stream_last_seq, position), set()
                else:
                    before = orjson.loads(last[2])
                    effective = position
                    kept = {cid for cid, digest in clauses.items() if before.get(cid) == digest}
                self._db.execute(
                    "DELETE FROM members WHERE clause_id NOT IN (SELECT value FROM json_each(?))",
                    (orjson.dumps(sorted(kept)).decode(),),
                )
                self._db.execute(
                    "DELETE FROM held WHERE clause_id NOT IN (SELECT value FROM json_each(?))",
                    (orjson.dumps(sorted(kept)).decode(),),
                )
                self._set_position(effective)
                cursor = self._db.execute(
                    "INSERT INTO epochs (agreement_id, digest, effective_after, backfill_reason, "
                    "clauses, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (agreement.id, agreement.digest, effective, backfill,
                     orjson.dumps(clauses).decode(), _now()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            n = cursor.lastrowid
        self._load(agreement)
        return self._epoch(n)

    def _epoch(self, n: int | None) -> Epoch:
        row = self._db.execute(
            "SELECT n, agreement_id, digest, effective_after, backfill_reason, recorded_at "
            "FROM epochs WHERE n = ?", (n,)
        ).fetchone()
        return Epoch(*row)

    def _load(self, agreement: Agreement) -> None:
        state = CohortState.of(agreement, self._partnership)
        with self._lock:
            for clause_id, person in self._db.execute("SELECT clause_id, person_key FROM members"):
                if clause_id in state.members:
                    state.add_member(clause_id, person)
            for row in self._db.execute(
                "SELECT clause_id, person_key, seq, event_id, subject FROM held ORDER BY seq"
            ):
                if row[0] in state.held:
                    state.add_held(Held(*row))
        self._agreement, self._state = agreement, state

    # --- ProjectionStore ----------------------------------------------------------------
    def _position(self) -> int:
        row = self._db.execute("SELECT seq FROM feed_position WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def _set_position(self, seq: int) -> None:
        self._db.execute(
            "INSERT INTO feed_position (id, seq) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq", (seq,)
        )

    def position(self) -> int:
        with self._lock:
            return self._position()

    def needs_subject(self, subject: str) -> bool:
        """Whether the agreement in effect can act on an event with this SEND_EVENTS subject
        (`cohort.Needed`); the runner decodes only these (`reading.batch.decode_batch`). A
        subject not of the event form is needed: decoding it is what dead-letters it."""
        state = self._state
        if state is None or not subject.startswith(_EVENT_ROOT):
            return True
        parts = subject[len(_EVENT_ROOT):].split(".")
        if len(parts) != 4:
            return True
        return state.needs(parts[0], f"{parts[1]}.{parts[2]}")

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        if self._state is None or self._agreement is None:
            raise RuntimeError("the feed store applies events only once an agreement is adopted")
        try:
            return self._apply(self._state, self._agreement.id, events, position)
        except BaseException:
            self._load(self._agreement)  # the in-memory state may be ahead of the file
            raise

    def _apply(
        self, state: CohortState, agreement_id: str, events: Sequence[StreamEvent],
        position: int | None,
    ) -> int:
        with self._lock:
            current = self._position()
            fresh = [e for e in events if e.seq > current]
            new_position = max([current, *(e.seq for e in fresh)] + [position or 0])
            if new_position == current:
                return current
            changes = Changes()
            for seq, envelope in fresh:
                one = apply(state, seq, envelope)
                changes.deliveries += one.deliveries
                changes.joined += one.joined
                changes.left += one.left
                changes.held += one.held
                changes.released += one.released
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write(changes, agreement_id, _now())
                self._set_position(new_position)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new_position

    def _write(self, changes: Changes, agreement_id: str, decided: str) -> None:
        db = self._db
        db.executemany("INSERT OR IGNORE INTO members VALUES (?, ?)", changes.joined)
        db.executemany("DELETE FROM members WHERE clause_id = ? AND person_key = ?", changes.left)
        db.executemany("DELETE FROM held WHERE clause_id = ? AND person_key = ?",
                       changes.released)
        db.executemany(
            "INSERT OR IGNORE INTO held VALUES (?, ?, ?, ?, ?)",
            [(h.clause_id, h.person_key, h.seq, h.event_id, h.subject) for h in changes.held],
        )
        db.executemany(
            "INSERT OR IGNORE INTO deliveries (recipient, event_id, clause_id, agreement_id, seq, "
            "subject, person_key, source_org, event_type, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(d.recipient, d.event_id, d.clause_id, agreement_id, d.seq, d.subject,
              *_about(d.subject), decided) for d in changes.deliveries],
        )

    # --- publishing and audit -----------------------------------------------------------
    def pending(self, limit: int, held: Collection[str] = ()) -> list[PendingDelivery]:
        """Deliveries decided but not yet acknowledged by SEND_FEEDS, in stream order; none to
        the recipients in `held` (the publisher holding back one the server would not take)."""
        skip = sorted(held)
        marks = ",".join("?" * len(skip))
        where = f"feed_seq IS NULL AND recipient NOT IN ({marks})" if skip else "feed_seq IS NULL"
        with self._lock:
            rows = self._db.execute(
                "SELECT recipient, event_id, clause_id, agreement_id, seq, subject "
                f"FROM deliveries WHERE {where} ORDER BY seq, recipient LIMIT ?",
                (*skip, limit),
            ).fetchall()
        return [PendingDelivery(*row) for row in rows]

    def mark_delivered(self, acked: Sequence[tuple[PendingDelivery, int]]) -> None:
        """Record SEND_FEEDS' sequence for each delivery it acknowledged."""
        when = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE deliveries SET feed_seq = ?, delivered_at = ? "
                "WHERE recipient = ? AND event_id = ?",
                [(feed_seq, when, d.recipient, d.event_id) for d, feed_seq in acked],
            )
            self._db.execute("COMMIT")

    def deliveries(
        self, *, person_key: str | None = None, recipient: str | None = None
    ) -> list[DeliveryRecord]:
        where, params = [], []
        if person_key is not None:
            where.append("person_key = ?")
            params.append(person_key)
        if recipient is not None:
            where.append("recipient = ?")
            params.append(recipient)
        sql = ("SELECT recipient, event_id, event_type, source_org, person_key, clause_id, "
               "agreement_id, seq, decided_at, feed_seq, delivered_at FROM deliveries")
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq, recipient", params).fetchall()
        return [DeliveryRecord(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _about(subject: str) -> tuple[str, str, str]:
    """(person, source, type) of an event, from its SEND_EVENTS subject."""
    parts = subject.split(".")
    return parts[6], parts[3], f"{parts[4]}.{parts[5]}"
