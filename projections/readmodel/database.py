"""The read models' two databases behind one small interface: SQLite (default) and PostgreSQL.

Why so small: every read-model query is portable SQL written with `?` placeholders over the
types `tables.py` allows, so the only differences are how to connect, how a write transaction
takes its lock, and the placeholder style. Keeping those here means the dataset and tracker
stores are written once, not once per database.

- SQLite: one file per read model; WAL so the API reads while the runner writes; the writer
  takes the lock up front (`BEGIN IMMEDIATE`); each snapshot is a read-only connection.
- PostgreSQL: one schema per read model in a shared database (`search_path`), a writer
  connection that is reopened if the server went away, and each snapshot a REPEATABLE READ,
  READ ONLY transaction, so figures and the stream position are read consistently.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WRITER_CACHE_KIB = 65_536
"""The SQLite writer's page cache (SQLite's default is 2 MiB). A batch's inserts land on
random leaves of the `person_events` indexes (event ids and person keys are random), so a small
cache re-reads the same index pages from the file on every batch: 64 MiB keeps the hot pages of
a partnership's store in memory (measured in `bench/findings.md`, "Store cost per event")."""


class Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (`?` placeholders); returns a cursor (`fetchall`, `rowcount`)."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Database(Protocol):
    lock_position: str
    """Clause that locks the position row in a write transaction ('' where BEGIN locks)."""

    def write(self) -> Any:
        """Context manager: a write transaction, committed on success, rolled back on error."""
        ...

    def read(self) -> Any:
        """Context manager: a consistent read-only transaction."""
        ...

    def close(self) -> None: ...


def is_postgres_dsn(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def schema_exists(dsn: str, schema: str) -> bool:
    """Whether the PostgreSQL database `dsn` names has `schema` (a rebuild writes a new one)."""
    import psycopg  # the optional `postgres` extra; only needed when PostgreSQL is chosen

    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    return found is not None


class SqliteDatabase:
    lock_position = ""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode = WAL")
        self._writer.execute("PRAGMA synchronous = NORMAL")
        self._writer.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        target = f"{self.path.resolve().as_uri()}?mode=ro" if read_only else str(self.path)
        conn = sqlite3.connect(
            target, uri=read_only, isolation_level=None, check_same_thread=False, timeout=10
        )
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect(read_only=True)
        try:
            conn.execute("BEGIN")
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        self._writer.close()


class _PostgresTransaction:
    """psycopg with the read models' `?` placeholders (their SQL never contains a literal %)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Load rows with `COPY … FROM STDIN`: the bulk path, far cheaper than INSERTs."""
        if rows:
            with self._conn.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)


def insert_rows(
    tx: Transaction, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Plain inserts of many rows (a duplicate key raises, see `is_duplicate_key`): `COPY` on
    PostgreSQL, one `executemany` on SQLite."""
    copy = getattr(tx, "copy_rows", None)
    if copy is not None:
        copy(table, columns, rows)
    elif rows:
        marks = ", ".join("?" for _ in columns)
        tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def is_duplicate_key(error: BaseException) -> bool:
    """Whether `error` is a primary key violation, from either database."""
    if isinstance(error, sqlite3.IntegrityError):
        return "UNIQUE" in str(error)
    return getattr(error, "sqlstate", None) == "23505"  # PostgreSQL's unique_violation


class PostgresDatabase:
    lock_position = " FOR UPDATE"

    def __init__(self, dsn: str, schema: str) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(
                f"PostgreSQL schema name {schema!r} must be lower-case letters, digits and _"
            )
        self._dsn = dsn
        self.schema = schema
        self._setup_lock = f"sendx-read-model:{schema}"
        self._setting_up = True
        self._writer = self._connect(create_schema=True)

    def _connect(self, *, create_schema: bool = False) -> Any:
        import psycopg  # the optional `postgres` extra; only needed when PostgreSQL is chosen

        conn = psycopg.connect(self._dsn, autocommit=True)
        if create_schema:
            # Partition workers started together create the same schema and tables at once, and
            # IF NOT EXISTS does not survive that (a unique violation in PostgreSQL's catalogue):
            # one opener at a time, from here to the end of the first write (the store's DDL).
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self._setup_lock,))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    @contextmanager
    def write(self) -> Iterator[_PostgresTransaction]:
        if self._writer.closed or self._writer.broken:
            self._writer = self._connect()
        try:
            with self._writer.transaction():
                yield _PostgresTransaction(self._writer)
        finally:
            if self._setting_up:
                self._setting_up = False
                if not (self._writer.closed or self._writer.broken):
                    self._writer.execute("SELECT pg_advisory_unlock(hashtext(%s))",
                                         (self._setup_lock,))

    @contextmanager
    def read(self) -> Iterator[_PostgresTransaction]:
        conn = self._connect()
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _PostgresTransaction(conn)
        finally:
            conn.close()

    def close(self) -> None:
        self._writer.close()


def open_database(location: Path | str, *, schema: str) -> SqliteDatabase | PostgresDatabase:
    """A PostgreSQL DSN (`postgresql://…`) opens `schema` there; anything else is a SQLite file."""
    if is_postgres_dsn(location):
        return PostgresDatabase(str(location), schema)
    return SqliteDatabase(location)
