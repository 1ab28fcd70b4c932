"""A read model's contents as plain rows, a digest per table, and the rows two stores disagree on.

Why a digest over sorted rows: two stores built from the same events hold the same rows but not
necessarily in the same physical order (batches differ, PostgreSQL and SQLite order differently),
so the digest must not depend on order. Each row is encoded canonically (orjson, a list of
values in column order), the encodings are sorted and hashed with SHA-256. Equal digests mean
equal multisets of rows; different digests are then explained row by row.

The tables are read in one read transaction, with the position, so a live store being written
while it is audited is read at one consistent point.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

POSITION_TABLE = "projection_position"
EVENT_LOG_TABLE = "person_events"
META_COLUMNS: dict[str, tuple[str, ...]] = {
    POSITION_TABLE: ("id", "seq", "fold_version"),
    EVENT_LOG_TABLE: ("event_id", "person_key", "stream_seq", "body"),
}
"""The tables every per-person read model keeps besides its facts (`readmodel/store.py`)."""

Row = tuple[Any, ...]


class _Snapshot(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def as_dicts(self, rows: Sequence[Row] | None = None) -> list[dict[str, Any]]:
        chosen = self.rows if rows is None else rows
        return [dict(zip(self.columns, row, strict=True)) for row in chosen]

    @property
    def digest(self) -> str:
        return table_digest(self.rows)


@dataclass(frozen=True)
class Contents:
    """A read model at one moment: the stream position it reflects and every table."""

    position: int
    tables: dict[str, Table]


def tables_of(store: Any) -> dict[str, tuple[str, ...]]:
    """Name -> columns of every table a per-person store keeps (its derivation's and the meta)."""
    facts = {t.name: tuple(c.name for c in t.columns) for t in store.derivation.tables}
    return {**META_COLUMNS, **facts}


def read_contents(snapshot: _Snapshot, tables: Mapping[str, tuple[str, ...]]) -> Contents:
    """Every table of one snapshot (call inside `store.snapshot()`: one read transaction)."""
    read = {
        name: Table(name, columns, tuple(
            tuple(row) for row in snapshot.query(f"SELECT {', '.join(columns)} FROM {name}")
        ))
        for name, columns in tables.items()
    }
    position_rows = read[POSITION_TABLE].rows
    return Contents(int(position_rows[0][1]) if position_rows else 0, read)


def store_contents(store: Any) -> Contents:
    with store.snapshot() as snapshot:
        return read_contents(snapshot, tables_of(store))


def _encoded(row: Row) -> bytes:
    return orjson.dumps(list(row), default=lambda value: {"bytes": bytes(value).hex()})


def table_digest(rows: Sequence[Row]) -> str:
    """SHA-256 over the sorted canonical encodings of the rows: independent of row order."""
    digest = hashlib.sha256()
    for encoded in sorted(map(_encoded, rows)):
        digest.update(encoded)
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class TableDifference:
    table: str
    live_digest: str
    rebuilt_digest: str
    only_live: list[dict[str, Any]] = field(default_factory=list)
    """Rows the live store has and the rebuild does not, in canonical order."""
    only_rebuilt: list[dict[str, Any]] = field(default_factory=list)
    live_rows: int = 0
    rebuilt_rows: int = 0


def differences(live: Contents, rebuilt: Contents) -> list[TableDifference]:
    """The tables whose digests differ, each with the rows only one side has."""
    found: list[TableDifference] = []
    for name, rebuilt_table in rebuilt.tables.items():
        live_table = live.tables.get(name, Table(name, rebuilt_table.columns, ()))
        if live_table.digest == rebuilt_table.digest:
            continue
        live_count = Counter(map(_encoded, live_table.rows))
        rebuilt_count = Counter(map(_encoded, rebuilt_table.rows))
        only_live = _surplus(live_count, rebuilt_count)
        only_rebuilt = _surplus(rebuilt_count, live_count)
        found.append(TableDifference(
            name, live_table.digest, rebuilt_table.digest,
            live_table.as_dicts(only_live), rebuilt_table.as_dicts(only_rebuilt),
            len(live_table.rows), len(rebuilt_table.rows),
        ))
    return found


def _surplus(mine: Counter[bytes], theirs: Counter[bytes]) -> list[Row]:
    """Rows `mine` holds more often than `theirs`, each as many times as it is surplus."""
    return [
        tuple(orjson.loads(encoded))
        for encoded in sorted(mine)
        for _ in range(mine[encoded] - theirs[encoded])
    ]
