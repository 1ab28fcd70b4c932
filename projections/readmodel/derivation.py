"""What a per-person read model derives from a person's events, as an incremental fold.

Why a fold and not one `derive(history)` function: the store (`store.py`) keeps each person's
fold state between batches, so an event that sorts after everything the person already has
costs one `step` and one `facts`, not a re-read and re-fold of their whole history. Events that
arrive out of history order, or a state the store no longer holds, fall back to folding the
whole history again; both paths give `derive(history)` by construction, since `derive` is
defined as that very fold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, reduce
from operator import attrgetter
from typing import Any

from contracts import Envelope
from projections.readmodel.tables import FactTable

FactRows = Mapping[str, Sequence[Any]]
"""Fact rows (the tables' dataclasses) by table name."""


@dataclass(frozen=True)
class Derivation:
    """A read model's tables and its pure fold: `derive(history) = facts(fold(sorted history))`.

    - `initial`: the state of a person with no events;
    - `step(state, event)`: the state after one more event, taken in `order`;
    - `order(event)`: the history order, a total order (it must end with the event id);
    - `rows[table](person, state)`: that table's rows for a state;
    - `inputs[table]`: the state attributes those rows read (dotted for a part of a part). When
      a step leaves all of them as they were (the same objects: the folds keep unchanged parts
      by reference), the store keeps the table's rows without computing them again. A table
      not named is always recomputed.

    Bump `version` whenever the fold or the tables change: on open, the store then recreates
    the fact tables and re-derives everyone from the stored events.
    """

    tables: tuple[FactTable, ...]
    initial: Any
    step: Callable[[Any, Envelope], Any]
    order: Callable[[Envelope], Any]
    rows: Mapping[str, Callable[[str, Any], Iterable[Any]]]
    version: int
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def table(self, name: str) -> FactTable:
        return next(t for t in self.tables if t.name == name)

    def facts(self, person: str, state: Any) -> dict[str, tuple[Any, ...]]:
        """Every table's rows for a person's state."""
        return {t.name: tuple(self.rows[t.name](person, state)) for t in self.tables}

    def changed_tables(self, before: Any, after: Any) -> list[FactTable]:
        """The tables whose rows may differ between two states (see `inputs`)."""
        if before is after:
            return list(self._always)
        changed = {name for name, get in self._read if get(before) is not get(after)}
        return [t for t, read in self._reads if read is None or not read.isdisjoint(changed)]

    @cached_property
    def _reads(self) -> tuple[tuple[FactTable, frozenset[str] | None], ...]:
        return tuple((t, _set_or_none(self.inputs.get(t.name))) for t in self.tables)

    @cached_property
    def _read(self) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
        names = sorted({name for read in self.inputs.values() for name in read})
        return tuple((name, attrgetter(name)) for name in names)

    @cached_property
    def _always(self) -> tuple[FactTable, ...]:
        return tuple(t for t in self.tables if t.name not in self.inputs)

    def fold(self, history: Iterable[Envelope]) -> Any:
        """The state after `history` in any order, each event id once (the first seen)."""
        unique: dict[str, Envelope] = {}
        for event in history:
            unique.setdefault(str(event.event_id), event)
        return reduce(self.step, sorted(unique.values(), key=self.order), self.initial)

    def derive(self, person: str, history: Iterable[Envelope]) -> FactRows:
        """A person's facts from their events in any order: what the store must hold for them."""
        return self.facts(person, self.fold(history))


def _set_or_none(names: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)
