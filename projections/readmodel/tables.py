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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from operator import attrgetter, methodcaller
from typing import Any

_TO_SQL: dict[type, Callable[[Any], Any]] = {date: methodcaller("isoformat"), bool: int}
"""The kinds whose values change on the way to SQL, and how (`Column.to_sql`)."""
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
    """A table of `row` dataclasses; `key` is its primary key, `indexes` speed up the queries.

    Every row has a `person_key` (the store replaces a person's rows by it)."""

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
        return statements + [create for _, create in self.index_ddl]

    @cached_property
    def index_ddl(self) -> tuple[tuple[str, str], ...]:
        """(name, CREATE INDEX statement) of each secondary index: a bulk load drops them and
        builds them after loading (`readmodel.bulk`)."""
        return tuple(
            (
                name := f"{self.name}_by_{'_'.join(index)}",
                f"CREATE INDEX IF NOT EXISTS {name} ON {self.name} ({', '.join(index)})",
            )
            for index in self.indexes
        )

    @cached_property
    def insert(self) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.name} ({self.column_list}) VALUES ({marks})"

    @cached_property
    def delete_person(self) -> str:
        """Deletes every row of one person (`?`: the person key)."""
        return f"DELETE FROM {self.name} WHERE person_key = ?"

    @cached_property
    def delete_row(self) -> str:
        """Deletes one row by its primary key (`?`s: `key_of(to_sql(row))`)."""
        return f"DELETE FROM {self.name} WHERE {' AND '.join(f'{k} = ?' for k in self.key)}"

    @cached_property
    def column_list(self) -> str:
        return ", ".join(c.name for c in self.columns)

    @cached_property
    def _key_positions(self) -> tuple[int, ...]:
        names = [c.name for c in self.columns]
        return tuple(names.index(k) for k in self.key)

    def key_of(self, values: typing.Sequence[Any]) -> tuple[Any, ...]:
        """The primary key of a row already converted by `to_sql`."""
        return tuple(values[i] for i in self._key_positions)

    @cached_property
    def _values_of(self) -> Callable[[Any], tuple[Any, ...]]:
        names = [c.name for c in self.columns]
        if len(names) == 1:
            return lambda row: (getattr(row, names[0]),)
        return attrgetter(*names)

    @cached_property
    def to_sql(self) -> Callable[[Any], tuple[Any, ...]]:
        """A row's values in column order, as stored: `Column.to_sql` of each, which only dates
        and booleans change. Built once per table (the store converts every row it writes)."""
        values_of = self._values_of
        conversions = tuple(
            (i, _TO_SQL[c.kind]) for i, c in enumerate(self.columns) if c.kind in _TO_SQL
        )
        if not conversions:
            return values_of

        def to_sql(row: Any) -> tuple[Any, ...]:
            values = list(values_of(row))
            for i, convert in conversions:
                value = values[i]
                if value is not None:
                    values[i] = convert(value)
            return tuple(values)

        return to_sql

    def from_sql(self, values: typing.Sequence[Any]) -> Any:
        return self.row(*(c.from_sql(v) for c, v in zip(self.columns, values, strict=True)))
