"""What every backlog shares: work open on a day (a stock), counted per LA and partnership by
age band, and published suppressed like every other figure.

A backlog is counted on any day: by month it is taken on each month's last day (like every
stock in the dataset); `as_of` takes it on one day. Each backlog's own rule (what is open, how
old it is) is in its module (`projections/dataset/indicators/`); this is the plumbing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import Field

from projections.dataset.areas import Partnership
from projections.dataset.counting import Tally
from projections.dataset.definition import IndicatorDefinition, Measure, Monthly
from projections.dataset.figures import Figures
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, fixed
from projections.readmodel.store import Snapshot

R = TypeVar("R")

Days = Sequence[tuple[str, date]]
"""(the month a figure is labelled with, YYYY-MM; the day the backlog is taken on)."""


class BacklogFigures(Figures):
    as_of: date | None = Field(
        None, description="The day the backlog was taken on (`as_of`); null: each month's last "
        "day.")


@dataclass(frozen=True)
class Backlog(Generic[R]):
    """How a backlog's facts become its published figure, by month or on one day."""

    indicator: IndicatorDefinition
    facts: Callable[[Snapshot, date, date], Any]
    """The facts that may be open between the first and the last day (SQL narrowing only)."""
    count: Callable[[Any, Days], Tally]
    """Pure: the open items on each day, by group and measure."""
    figure: type
    result: type[R]
    measures: tuple[str, ...]
    """The total first, then the bands it is the sum of."""
    groups: tuple[str, ...] = ("",)
    group_field: str | None = None

    def counts(self, snapshot: Snapshot, months: Sequence[Month]) -> Tally:
        """The exact counts on each month's last day, unsuppressed."""
        days = [(str(m), m.last_day) for m in months]
        return self.count(self.facts(snapshot, months[0].last_day, months[-1].last_day), days)

    def monthly(self, summary: str, measure: Measure) -> Monthly:
        """The backlog served by month like every other indicator, taken on each month end:
        the one declaration its module makes beside its rule."""
        return Monthly(self.indicator, self.counts, self.publish, self.result, summary, measure)

    def counts_on(self, snapshot: Snapshot, day: date) -> Tally:
        """The exact counts on one day, labelled with its month, unsuppressed."""
        return self.count(self.facts(snapshot, day, day), [(str(Month.of(day)), day)])

    def publish(self, read_model: DatasetReadModel, months: Sequence[Month],
                partnership: Partnership, la: str | None = None) -> R:
        """The backlog at each month's end per LA (or `la`'s only) and the partnership."""
        partnership.check(la)
        with read_model.snapshot() as snap:
            position, tally = snap.position(), self.counts(snap, months)
        return self._result(position, tally, months, partnership, la, None)

    def publish_on(self, read_model: DatasetReadModel, day: date, partnership: Partnership,
                   la: str | None = None) -> R:
        """The backlog on `day` per LA (or `la`'s only) and the partnership."""
        partnership.check(la)
        with read_model.snapshot() as snap:
            position, tally = snap.position(), self.counts_on(snap, day)
        return self._result(position, tally, [Month.of(day)], partnership, la, day)

    def _result(self, position: int, tally: Tally, months: Sequence[Month],
                partnership: Partnership, la: str | None, day: date | None) -> R:
        relations = fixed((self.measures[0], self.measures[1:]))
        rows = []
        for month, group, a in area_rows(tally, months, self.groups, self.measures, partnership,
                                         la, relations):
            extra = {self.group_field: group} if self.group_field else {}
            rows.append(self.figure(month=month, area=a.area, area_name=a.area_name, **extra,
                                    **{m: a.cells[m] for m in self.measures}))
        return self.result(indicator=self.indicator, as_at_stream_sequence=position,
                           as_of=day, figures=rows)


def open_between(snapshot: Snapshot, table: str, start: str, end: str, first: date,
                 last: date) -> list[Any]:
    """Rows of `table` whose [start, end) spell began by `last` and had not ended by `first`:
    the facts that may be open on some day between them (SQL narrowing; the rule is the
    count's)."""
    return snapshot.rows(table, f"{start} <= ? AND ({end} IS NULL OR {end} > ?)",
                         (last.isoformat(), first.isoformat()))


def each_day(days: Days, items: Iterable[Any]) -> Iterable[tuple[str, date, Any]]:
    """Every (month label, day, item): the loop each backlog's count runs."""
    items = list(items)
    for label, day in days:
        for item in items:
            yield label, day, item
