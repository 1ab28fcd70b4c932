"""The alert process's own record of every alert it has sent, and of which are still open
(SQLite, beside the read models).

JetStream's duplicate window (24 h on SEND_ALERTS) drops an alert published twice within a
day; this record is what keeps a red milestone from being alerted again next week, and what
says which alerts the owner still holds open, so each is withdrawn once when its condition
clears. An alert (or its withdrawal) is recorded only after the server acknowledged it, so a
crash between the two publishes it once more, with the same `Nats-Msg-Id`, which the window
then drops: at least once on the wire, once in the stream.

A file written before withdrawals existed gains the columns it lacks when opened; its alerts
have no `about` recorded (None), and are open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from projections.alerts.withdrawals import OpenAlert

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_alerts (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL UNIQUE,
    owner_org TEXT NOT NULL,
    kind TEXT NOT NULL,
    person_key TEXT NOT NULL,
    stream_sequence INTEGER NOT NULL,
    sent_at TEXT NOT NULL
)
"""
_ADDED = {
    "about": "TEXT",
    "withdrawn_at": "TEXT",
    "withdrawal_reason": "TEXT",
    "withdrawal_sequence": "INTEGER",
}
"""Columns added since the first schema (`ALTER TABLE … ADD COLUMN` when missing): `about`,
and the withdrawal (NULL while the alert is open)."""


class SentAlerts:
    """Which alert ids were sent, in order, and which are open; the position numbers each
    alert's message."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(sent_alerts)")}
        for column, kind in _ADDED.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE sent_alerts ADD COLUMN {column} {kind}")

    def unsent(self, alert_ids: Iterable[UUID]) -> set[UUID]:
        ids = list(alert_ids)
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = [str(i) for i in ids[start:start + 500]]
            marks = ",".join("?" * len(chunk))
            known.update(row[0] for row in self._db.execute(
                f"SELECT alert_id FROM sent_alerts WHERE alert_id IN ({marks})", chunk))
        return {i for i in ids if str(i) not in known}

    def next_position(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(position), 0) FROM sent_alerts").fetchone()
        return int(row[0]) + 1

    def record(self, alert_id: UUID, owner_org: str, kind: str, person_key: str,
               stream_sequence: int, about: str | None = None) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO sent_alerts (alert_id, owner_org, kind, person_key, "
            "stream_sequence, sent_at, about) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(alert_id), owner_org, kind, person_key, stream_sequence,
             datetime.now(UTC).isoformat(), about),
        )

    def open_alerts(self) -> list[OpenAlert]:
        """Every alert sent and not withdrawn, oldest first."""
        return [OpenAlert(UUID(alert_id), owner, kind, person, about, position)
                for position, alert_id, owner, kind, person, about in self._db.execute(
                    "SELECT position, alert_id, owner_org, kind, person_key, about "
                    "FROM sent_alerts WHERE withdrawn_at IS NULL ORDER BY position")]

    def record_withdrawal(self, alert_id: UUID, reason: str, stream_sequence: int) -> None:
        """Closes the alert; a second call for the same alert changes nothing."""
        self._db.execute(
            "UPDATE sent_alerts SET withdrawn_at = ?, withdrawal_reason = ?, "
            "withdrawal_sequence = ? WHERE alert_id = ? AND withdrawn_at IS NULL",
            (datetime.now(UTC).isoformat(), reason, stream_sequence, str(alert_id)),
        )

    def counts_by_owner(self) -> dict[str, tuple[int, int]]:
        """Owner -> (open, withdrawn), sorted by owner."""
        return {owner: (int(open_), int(withdrawn)) for owner, open_, withdrawn in self._db.execute(
            "SELECT owner_org, SUM(withdrawn_at IS NULL), SUM(withdrawn_at IS NOT NULL) "
            "FROM sent_alerts GROUP BY owner_org ORDER BY owner_org")}

    def close(self) -> None:
        self._db.close()
