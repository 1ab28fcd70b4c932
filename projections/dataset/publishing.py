"""How an indicator's exact counts become its published figure: read in one snapshot (the
counts and the stream position they reflect), add the partnership row and suppress small numbers
(`areas.publish_areas`). An LA with nothing to count still gets a row, so a dashboard never
mistakes "none" for "missing". Each indicator's own query is in its module
(`projections/dataset/indicators/`); the timeliness indicators share `timed_indicator`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from projections.dataset import counting
from projections.dataset.areas import Partnership, PublishedArea, Relations, publish_areas
from projections.dataset.definition import IndicatorDefinition, Measure, Monthly
from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot
from projections.suppression import enough_values, percentage

R = TypeVar("R")


class DatasetReadModel(Protocol):
    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


def read(read_model: DatasetReadModel, tally: Any, months: Sequence[Month]) -> tuple[int, Any]:
    """The position and the exact counts, read in one snapshot."""
    with read_model.snapshot() as snap:
        return snap.position(), tally(snap, months)


def area_rows(
    tally: counting.Tally,
    months: Sequence[Month],
    groups: Sequence[str],
    measures: Sequence[str],
    partnership: Partnership,
    la: str | None,
    relations: Relations,
) -> Iterator[tuple[str, str, PublishedArea]]:
    for month in map(str, months):
        for group in groups:
            counts = tally.get((month, group), {})
            for area in publish_areas(counts, measures, partnership, la, relations):
                yield month, group, area


def fixed(*sums: tuple[str, Sequence[str]]) -> Relations:
    """The same sums whatever measures are present."""
    return lambda _: sums


def timed_relations(total: str, *untimed: str) -> Relations:
    """total = untimed parts + counted; counted = within + late."""
    return lambda _: [(total, (*untimed, "counted")), ("counted", ("within", "late"))]


def stat(values: list[float], fn: Any) -> float | None:
    return round(fn(values), 1) if enough_values(values) else None


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def area_values(values: counting.Values, key: tuple[str, str], area: str) -> list[float]:
    """The raw values behind one published row (the partnership: every LA's and unknown's)."""
    by_la = values.get(key, {})
    if area == "partnership":
        return [v for vs in by_la.values() for v in vs]
    return list(by_la.get(None if area == "unknown" else area, []))


@dataclass(frozen=True)
class Timed(Generic[R]):
    """How a timeliness indicator's counts become its published figure."""

    indicator: IndicatorDefinition
    counts: Any
    figure: type
    result: type[R]
    fields: dict[str, str]
    """measure -> field of the figure ("within" -> e.g. within_six_weeks)."""
    relations: Relations
    denominator: str = "counted"
    groups: tuple[str, ...] = ("",)
    group_field: str | None = None

    def publish(
        self,
        read_model: DatasetReadModel,
        months: Sequence[Month],
        partnership: Partnership,
        la: str | None = None,
    ) -> R:
        """The indicator per LA (or `la`'s only) and the partnership, by month, suppressed."""
        return timed_indicator(self, read_model, months, partnership, la)

    def monthly(self, summary: str, measure: Measure) -> Monthly:
        """The indicator as the API serves and the dashboard charts it."""
        return Monthly(self.indicator, self.counts, self.publish, self.result, summary, measure)


def timed_indicator(
    spec: Timed[Any],
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None,
) -> Any:
    partnership.check(la)
    position, tally = read(read_model, spec.counts, months)
    rows = []
    for month, group, a in area_rows(
        tally, months, spec.groups, list(spec.fields), partnership, la, spec.relations
    ):
        fields = {field: a.cells[measure] for measure, field in spec.fields.items()}
        if spec.group_field:
            fields[spec.group_field] = group
        rows.append(
            spec.figure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                **fields,
                percent_within=percentage(a.cells["within"], a.cells[spec.denominator]),
            )
        )
    return spec.result(indicator=spec.indicator, as_at_stream_sequence=position, figures=rows)


def same(*names: str) -> dict[str, str]:
    return {name: name for name in names}

