"""The fact-table writes of one batch: only the rows that changed, one `executemany` per table.

Why: a person's new event usually changes one or two of a read model's tables (the dataset has
nine), and within a table one row. Deleting and re-inserting every table for every touched
person was most of the store's SQL time. The rows to write come from comparing the rows last
written for a person (`people.KnownPerson.facts`) with their new rows, both as SQL values
(tuples of plain values: compared and hashed in C, and not tracked by the garbage collector);
when the store does not know what it last wrote (a miss), the person's rows are deleted in every
table and written anew.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from projections.readmodel.database import Transaction
from projections.readmodel.people import FactValues
from projections.readmodel.tables import FactTable


def fact_values(tables: Sequence[FactTable], facts: Mapping[str, Sequence[Any]]) -> FactValues:
    """A derivation's fact rows (dataclasses) as the SQL values stored, by table."""
    return {t.name: tuple(map(t.to_sql, facts.get(t.name, ()))) for t in tables}


class FactWrites:
    """Collects a batch's deletes and inserts per table; `flush` writes them in that order."""

    def __init__(self, tables: Sequence[FactTable]) -> None:
        self._tables = tables
        self._people_cleared: dict[str, list[tuple[str]]] = {t.name: [] for t in tables}
        self._rows_deleted: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in tables}
        self._rows_inserted: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in tables}

    def replace_person(self, person: str, facts: FactValues) -> None:
        """Whatever is stored for `person`, afterwards exactly `facts`."""
        for table in self._tables:
            self._people_cleared[table.name].append((person,))
            self._rows_inserted[table.name].extend(facts.get(table.name, ()))

    def change(
        self, before: FactValues, after: FactValues, tables: Sequence[FactTable] | None = None
    ) -> None:
        """From rows `before` (what is stored) to rows `after`: only the rows that differ, in
        `tables` (default: all)."""
        for table in self._tables if tables is None else tables:
            name = table.name
            old, new = before.get(name, ()), after.get(name, ())
            if old == new:
                continue
            kept_old, kept_new = set(old), set(new)
            self._rows_deleted[name].extend(table.key_of(r) for r in old if r not in kept_new)
            self._rows_inserted[name].extend(r for r in new if r not in kept_old)

    def flush(self, tx: Transaction) -> None:
        for table in self._tables:
            name = table.name
            if self._people_cleared[name]:
                tx.executemany(table.delete_person, self._people_cleared[name])
            if self._rows_deleted[name]:
                tx.executemany(table.delete_row, self._rows_deleted[name])
            if self._rows_inserted[name]:
                tx.executemany(table.insert, self._rows_inserted[name])
