"""The alert process's own record of every alert it has sent (SQLite, beside the read models).

JetStream's duplicate window (24 h on SEND_ALERTS) drops an alert published twice within a
day; this record is what keeps a red milestone from being alerted again next week. An alert
is recorded only after the server acknowledged it, so a crash between the two publishes it
once more, which the window then drops: at least once on the wire, once in the stream.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

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


class SentAlerts:
    """Which alert ids were sent, in order; the position numbers each alert's message."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

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
               stream_sequence: int) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO sent_alerts (alert_id, owner_org, kind, person_key, "
            "stream_sequence, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
            (str(alert_id), owner_org, kind, person_key, stream_sequence,
             datetime.now(UTC).isoformat()),
        )

    def counts_by_owner(self) -> dict[str, int]:
        return dict(self._db.execute(
            "SELECT owner_org, COUNT(*) FROM sent_alerts GROUP BY owner_org ORDER BY owner_org"))

    def close(self) -> None:
        self._db.close()
