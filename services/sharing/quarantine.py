"""Stored events the relay could not publish, kept aside in the organisation's own store.

An event the relay cannot turn into a publishable contract event (the translator or the
contract refuses it, it breaks the topology, it does not fit in a NATS message) must neither be
skipped silently nor stop everything after it. The relay records it here with the reason (a
`<app>_relay_quarantine` table beside the checkpoint, written before the checkpoint moves past
it, so a crash in between only records it again) and goes on with the next event. The shared
chain links the published events only, so a quarantined event is simply not on the stream: its
source position is a gap, which `sendx audit chain` does not count as evidence (a source may
store events it does not share).

Republishing after a fix (`sendx quarantine republish --org 856 17`) appends a `Release` to the
organisation's own log; when the relay reaches it, it translates the original stored event again
and publishes it with the event id the partner was given, at the release's position in the log,
so the chain stays in order. If it still cannot be published it stays quarantined with the new
reason. The service answers `quarantine.list`, `quarantine.show` and `quarantine.republish`
requests on its command subjects (`QuarantineDesk`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import event
from eventsourcing.sqlite import SQLiteDatastore

from services.domain.aggregates import Bookkeeping

REQUESTS = ("quarantine.list", "quarantine.show", "quarantine.republish")
"""The operator's requests on `send.cmd.<org>.<request>` (`sendx quarantine`)."""


@dataclass(frozen=True)
class Quarantined:
    """One stored event the relay could not publish, and what became of it."""

    notification_id: int
    event_id: str
    stored_type: str
    reason: str
    quarantined_at: str
    attempts: int = 1
    release_requested_at: str | None = None
    republished_at: str | None = None
    republished_position: int | None = None

    @property
    def open(self) -> bool:
        return self.republished_at is None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "open": self.open}


@dataclass(frozen=True)
class Problem:
    """Why one stored event cannot be published (the relay records it as `Quarantined`)."""

    notification_id: int
    event_id: UUID
    stored_type: str
    reason: str


class Release(Bookkeeping):
    """An operator asked for a quarantined event to be published again (never shared itself:
    the relay publishes the original event in its place)."""

    @event("Requested")
    def __init__(self, notification_id: int, requested_by: str) -> None:
        self.notification_id = notification_id
        self.requested_by = requested_by


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_COLUMNS = (
    "notification_id", "event_id", "stored_type", "reason", "quarantined_at", "attempts",
    "release_requested_at", "republished_at", "republished_position",
)


class QuarantineTable:
    """The quarantine in the organisation's own database (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any, table: str) -> None:
        self.datastore = datastore
        sqlite = isinstance(datastore, SQLiteDatastore)
        self.mark = "?" if sqlite else "%s"
        self.table = table if sqlite else f'"{datastore.schema}"."{table}"'
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (notification_id BIGINT PRIMARY KEY, "
                "event_id TEXT NOT NULL, stored_type TEXT NOT NULL, reason TEXT NOT NULL, "
                "quarantined_at TEXT NOT NULL, attempts INTEGER NOT NULL, "
                "release_requested_at TEXT, republished_at TEXT, republished_position BIGINT)"
            )

    def _select(
        self, where: str = "", params: Sequence[object] = (), limit: int | None = None
    ) -> list[Quarantined]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM {self.table} {where} "
                f"ORDER BY notification_id{'' if limit is None else f' LIMIT {int(limit)}'}",
                tuple(params),
            )
            rows = cursor.fetchall()
        return [Quarantined(**{c: row[c] for c in _COLUMNS}) for row in rows]

    def entries(self, *, include_republished: bool = False) -> list[Quarantined]:
        return self._select("" if include_republished else "WHERE republished_at IS NULL")

    def oldest_open(self) -> Quarantined | None:
        found = self._select("WHERE republished_at IS NULL", limit=1)
        return found[0] if found else None

    def get(self, notification_id: int) -> Quarantined | None:
        found = self._select(f"WHERE notification_id = {self.mark}", (notification_id,))
        return found[0] if found else None

    def open_count(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) AS n FROM {self.table} WHERE republished_at IS NULL")
            return int(cursor.fetchone()["n"])

    def record(self, problems: Iterable[Problem], republished: Iterable[tuple[int, int]]) -> None:
        """Quarantine `problems` (again: the reason is updated, attempts counted) and mark
        `republished` (original notification id, position it was published at), in one go."""
        m, now = self.mark, _now()
        with self.datastore.transaction(commit=True) as cursor:
            for p in problems:
                cursor.execute(
                    f"INSERT INTO {self.table} (notification_id, event_id, stored_type, reason, "
                    f"quarantined_at, attempts) VALUES ({m}, {m}, {m}, {m}, {m}, 1) "
                    "ON CONFLICT (notification_id) DO UPDATE SET reason = excluded.reason, "
                    f"attempts = {self.table}.attempts + 1, release_requested_at = NULL, "
                    "republished_at = NULL, republished_position = NULL",
                    (p.notification_id, str(p.event_id), p.stored_type, p.reason, now),
                )
            for original, position in republished:
                cursor.execute(
                    f"UPDATE {self.table} SET republished_at = {m}, republished_position = {m}, "
                    f"release_requested_at = NULL WHERE notification_id = {m}",
                    (now, position, original),
                )

    def request_release(self, notification_id: int) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET release_requested_at = {self.mark} "
                f"WHERE notification_id = {self.mark}",
                (_now(), notification_id),
            )


def quarantine_for(app: Application) -> QuarantineTable:
    """The quarantine table in `app`'s own database, beside the relay checkpoint."""
    datastore = getattr(app.recorder, "datastore", None)
    if datastore is None:
        raise TypeError(
            f"{app.name}: relays need an SQLite or PostgreSQL store, not {app.recorder!r}"
        )
    return QuarantineTable(datastore, f"{app.name}_relay_quarantine")


class QuarantineDesk:
    """Answers the operator's quarantine requests for one organisation (in a store thread)."""

    def __init__(self, app: Application, table: QuarantineTable, org: str) -> None:
        self.app, self.table, self.org = app, table, org

    def answer(self, request: str, body: dict[str, Any]) -> dict[str, Any]:
        if request == "quarantine.list":
            everything = bool(body.get("all"))
            entries = self.table.entries(include_republished=everything)
            return {"ok": True, "open": self.table.open_count(),
                    "events": [e.to_json() for e in entries]}
        if request == "quarantine.show":
            entry, error = self._entry(body)
            return {"ok": False, "error": error} if entry is None else {
                "ok": True, "event": entry.to_json()}
        return self.republish(body)

    def _entry(self, body: dict[str, Any]) -> tuple[Quarantined | None, str]:
        number = body.get("notification_id")
        if type(number) is not int:
            return None, (f"{body.get('request', 'quarantine')}: field notification_id: a whole "
                          f"number (the stored event's notification id) is required")
        entry = self.table.get(number)
        if entry is None:
            return None, f"no stored event {number} is quarantined by {self.org}'s relay"
        return entry, ""

    def republish(self, body: dict[str, Any]) -> dict[str, Any]:
        """Append a `Release` for each open entry named (or every one, `all`); refused for
        an entry already republished or already waiting for the relay."""
        requested_by = str(body.get("requested_by") or "operator")[:200]
        if body.get("all"):
            entries = [e for e in self.table.entries() if e.release_requested_at is None]
        else:
            entry, error = self._entry({**body, "request": "quarantine.republish"})
            if entry is None:
                return {"ok": False, "error": error}
            if not entry.open:
                return {"ok": False, "error": (
                    f"stored event {entry.notification_id} was already republished (position "
                    f"{entry.republished_position}, {entry.republished_at})")}
            if entry.release_requested_at is not None:
                return {"ok": False, "error": (
                    f"stored event {entry.notification_id} is already waiting to be republished "
                    f"(asked at {entry.release_requested_at})")}
            entries = [entry]
        for entry in entries:
            self.app.save(Release(notification_id=entry.notification_id,
                                  requested_by=requested_by))
            self.table.request_release(entry.notification_id)
        return {"ok": True, "released": [e.notification_id for e in entries]}
