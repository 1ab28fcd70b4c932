"""The access log: every person-level read (and every refusal), who, what, when, how many rows.

Kept in its own small store beside the read models — SQLite by default, a PostgreSQL schema
when given a DSN (`projections.readmodel.database`) — because it is written by the API, which
only ever reads the read models. Auditors read it at `/api/audit/access-log`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from projections.readmodel.database import open_database

DEFAULT_SCHEMA = "sendx_access"
_DDL = (
    "CREATE TABLE IF NOT EXISTS access_log ("
    " id TEXT PRIMARY KEY, at TEXT NOT NULL, token_name TEXT NOT NULL, role TEXT NOT NULL,"
    " org TEXT, method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,"
    " status BIGINT NOT NULL, person_rows BIGINT NOT NULL, withheld_rows BIGINT NOT NULL,"
    " reason TEXT)",
    "CREATE INDEX IF NOT EXISTS access_log_by_at ON access_log (at)",
)
_COLUMNS = (
    "at, token_name, role, org, method, path, query, status, person_rows, withheld_rows, reason"
)


class AccessRecord(BaseModel):
    at: datetime = Field(description="When the read was answered (UTC).")
    token_name: str = Field(description="The name the token was issued under.")
    role: str
    org: str | None = Field(description="The reader's organisation (partners).")
    method: str
    path: str
    query: str = Field(description="The query string as sent (filters, period).")
    status: int = Field(description="200 for a read, 403 for a refusal.")
    person_rows: int = Field(description="Person-level rows returned.")
    withheld_rows: int = Field(description="Rows about people the reader's events never mention.")
    reason: str | None = Field(default=None, description="Why a read was refused.")


def access_log_file(tokens: Path) -> Path:
    """The access log beside the tokens file (the API's and the feed process's)."""
    return tokens.parent / "access-log.sqlite"


class AccessLogPage(BaseModel):
    entries: list[AccessRecord] = Field(description="Newest first.")


class AccessLog:
    def __init__(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> None:
        self._db = open_database(location, schema=schema)
        self._lock = threading.Lock()
        with self._db.write() as tx:
            for statement in _DDL:
                tx.execute(statement)

    def record(self, entry: AccessRecord) -> None:
        values = (
            str(uuid.uuid4()), entry.at.astimezone(UTC).isoformat(), entry.token_name, entry.role,
            entry.org, entry.method, entry.path, entry.query, entry.status, entry.person_rows,
            entry.withheld_rows, entry.reason,
        )
        with self._lock, self._db.write() as tx:
            tx.execute(f"INSERT INTO access_log (id, {_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                       values)

    async def arecord(self, entry: AccessRecord) -> None:
        await asyncio.to_thread(self.record, entry)

    def entries(self, *, since: datetime | None = None, limit: int = 100) -> list[AccessRecord]:
        where, params = ("", [])
        if since is not None:
            where, params = "WHERE at >= ?", [since.astimezone(UTC).isoformat()]
        with self._db.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM access_log {where} ORDER BY at DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        names = [c.strip() for c in _COLUMNS.split(",")]
        return [AccessRecord.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def close(self) -> None:
        self._db.close()
