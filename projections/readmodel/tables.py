"""Fact tables declared once, from frozen dataclasses: the same DDL and row conversion on SQLite
and PostgreSQL.

Why dataclasses: a fact row is a value the pure derivations produce and the tests compare; the
table is just where it is kept. Column types are the portable subset both databases share:
text (dates as ISO `YYYY-MM-DD`, which compare in calendar order), BIGINT, DOUBLE PRECISION,
and booleans as 0/1 integers, so every query is the same SQL on both.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

_SQL_TYPES: dict[type, str] = {
    str: "TEXT",
    int: "BIGINT",
    bool: "INTEGER",
    float: "DOUBLE PRECISION",
    date: "TEXT",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: type
    nullable: bool

    @property
    def ddl(self) -> str:
        return f"{self.name} {_SQL_TYPES[self.kind]}{'' if self.nullable else ' NOT NULL'}"

    def to_sql(self, value: Any) -> Any:
        if value is None:
            return None
        if self.kind is date:
            return value.isoformat()
        if self.kind is bool:
            return int(value)
        return value

    def from_sql(self, value: Any) -> Any:
        if value is None:
            return None
        if self.kind is date:
            return date.fromisoformat(value)
        if self.kind is bool:
            return bool(value)
        return self.kind(value)


def _column(name: str, hint: Any) -> Column:
    args = typing.get_args(hint)
    nullable = isinstance(hint, types.UnionType) and type(None) in args
    kind = next(a for a in args if a is not type(None)) if nullable else hint
    if kind not in _SQL_TYPES:
        raise TypeError(f"column {name}: no SQL type for {kind!r}")
    return Column(name, kind, nullable)


@dataclass(frozen=True)
class FactTable:
    """A table of `row` dataclasses; `key` is its primary key, `indexes` speed up the queries."""

    name: str
    row: type
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def columns(self) -> tuple[Column, ...]:
        hints = typing.get_type_hints(self.row)
        return tuple(_column(f.name, hints[f.name]) for f in dataclasses.fields(self.row))

    def ddl(self) -> list[str]:
        columns = ", ".join(c.ddl for c in self.columns)
        key = ", ".join(self.key)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({columns}, PRIMARY KEY ({key}))"]
        statements += [
            f"CREATE INDEX IF NOT EXISTS {self.name}_by_{'_'.join(index)}"
            f" ON {self.name} ({', '.join(index)})"
            for index in self.indexes
        ]
        return statements

    @property
    def insert(self) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.name} ({self.column_list}) VALUES ({marks})"

    @property
    def column_list(self) -> str:
        return ", ".join(c.name for c in self.columns)

    def to_sql(self, row: Any) -> tuple[Any, ...]:
        return tuple(c.to_sql(getattr(row, c.name)) for c in self.columns)

    def from_sql(self, values: typing.Sequence[Any]) -> Any:
        return self.row(*(c.from_sql(v) for c, v in zip(self.columns, values, strict=True)))
