"""Where a relay records how far it has published: the last notification id and the last hash.

Kept in the organisation's own database (a `relay_checkpoint` table beside the stored events),
written only after JetStream acknowledged the events, so a restart resumes exactly there.
Uses eventsourcing's own datastore connection pool: SQLite or PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.sqlite import SQLiteDatastore


@dataclass(frozen=True)
class Position:
    """`notification_id` 0 means nothing published yet; `last_hash` starts the next prev_hash."""

    notification_id: int = 0
    last_hash: str | None = None


class Checkpoint(Protocol):
    def load(self) -> Position: ...

    def save(self, position: Position) -> None: ...


class SqlCheckpoint:
    """One row per relay name in `<table>`; SQLite and PostgreSQL differ only in placeholders."""

    def __init__(self, datastore: Any, table: str, relay: str) -> None:
        self.datastore = datastore
        self.relay = relay
        sqlite = isinstance(datastore, SQLiteDatastore)
        mark = "?" if sqlite else "%s"
        self.table = table if sqlite else f'"{datastore.schema}"."{table}"'
        self._select = f"SELECT notification_id, last_hash FROM {self.table} WHERE relay = {mark}"
        self._upsert = (
            f"INSERT INTO {self.table} (relay, notification_id, last_hash) "
            f"VALUES ({mark}, {mark}, {mark}) ON CONFLICT (relay) DO UPDATE SET "
            "notification_id = excluded.notification_id, last_hash = excluded.last_hash"
        )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (relay TEXT PRIMARY KEY, "
                "notification_id BIGINT NOT NULL, last_hash TEXT)"
            )

    def load(self) -> Position:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._select, (self.relay,))
            row = cursor.fetchone()
        if row is None:
            return Position()
        return Position(int(row["notification_id"]), row["last_hash"])

    def save(self, position: Position) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._upsert, (self.relay, position.notification_id, position.last_hash))


def checkpoint_for(app: Application, relay: str = "jetstream") -> SqlCheckpoint:
    """The checkpoint table in `app`'s own database (named after the app for PostgreSQL)."""
    datastore = getattr(app.recorder, "datastore", None)
    if datastore is None:
        raise TypeError(
            f"{app.name}: relays need an SQLite or PostgreSQL store, not {app.recorder!r}"
        )
    return SqlCheckpoint(datastore, f"{app.name}_relay_checkpoint", relay)
