"""Indicator tiles: the headline figure, a monthly trend chart, the table, the definition.

Which measure a tile charts is the only per-indicator knowledge (`MEASURES`, from each
indicator's module in `projections/dataset/indicators/`); everything else comes from the API's
answer (figures by month and area, and the indicator's definition),
so a new monthly indicator gets a tile with its table even before it gets a measure.
Pure: answers in, a `Tile` out; the markup is `templates/tiles.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.dataset.indicators import MEASURES, Measure
from projections.web.api_reader import Answer
from projections.web.charts import Chart, Series, Style, chart_of, styled

PARTNERSHIP = "partnership"


def area_rows(figures: Sequence[dict[str, Any]], area: str) -> list[dict[str, Any]]:
    return [f for f in figures if f.get("area") == area]


def series_of(rows: Sequence[dict[str, Any]], months: Sequence[str], measure: Measure,
              ) -> list[Series]:
    """The measure's series over `months` for one area's rows."""
    if measure.split is None:
        by_month = {r["month"]: r for r in rows}
        return [Series(name, [by_month.get(m, {}).get(field) for m in months])
                for field, name in measure.fields]
    field, _ = measure.fields[0]
    values = sorted({str(r.get(measure.split)) for r in rows})
    by_key = {(r["month"], str(r.get(measure.split))): r for r in rows}
    return [Series(value.replace("_", " "), [by_key.get((m, value), {}).get(field)
                                             for m in months]) for value in values]


@dataclass(frozen=True)
class Tile:
    """What one indicator's tile shows (`templates/tiles.html` lays it out)."""

    indicator: dict[str, Any]
    months: Sequence[str]
    problem: str | None = None
    """Why there is no answer to show (the API's refusal or absence, explained)."""
    position: Any = ""
    """The stream position the figures are as at."""
    measure: Measure | None = None
    series: Sequence[Series] = ()
    chart: Chart | None = None
    csv: str = ""
    """The download link of the figures as CSV (the same query, the same suppression)."""
    targets: Sequence[dict[str, Any]] = ()
    """The latest month's figures against the target in force, with RAG."""
    periods: Sequence[dict[str, Any]] = ()
    """The latest month's year to date and rolling 12 months."""
    latest_rows: Sequence[dict[str, Any]] = ()
    """The latest month's rows (one per split value) for `measure.latest`."""
    areas: Sequence[Series] = ()
    """Each LA beside the others and the partnership: the first measure, one series each."""
    areas_chart: Chart | None = None
    england: Sequence[dict[str, Any]] = ()
    """England's published figures for this indicator, with source and whether they match."""
    no_england: str = ""
    """Why there is no England figure beside this indicator (labelled, not left blank)."""

    @property
    def styled(self) -> list[tuple[Series, Style]]:
        return styled(self.series)

    @property
    def areas_styled(self) -> list[tuple[Series, Style]]:
        return styled(self.areas)

    @property
    def rolling(self) -> dict[str, Any] | None:
        """The 12 months to the last month shown: the headline when that month alone has no
        figure to show (hidden, or too few to count)."""
        return next((p for p in self.periods if p.get("period") == "rolling_12_months"), None)


def area_series(figures: Sequence[dict[str, Any]], months: Sequence[str], measure: Measure
                ) -> list[Series]:
    """The measure's first field for every area in the answer, LAs first, then the partnership
    (an indicator split by giver or pathway is compared in its table, not here)."""
    if measure.split is not None:
        return []
    field, _ = measure.fields[0]
    names = {f["area"]: f.get("area_name", f["area"]) for f in figures}
    return [series_of(area_rows(figures, area), months, Measure(((field, name),)))[0]
            for area, name in names.items()]


def latest_of(rows: Sequence[dict[str, Any]], months: Sequence[str], area: str
              ) -> list[dict[str, Any]]:
    """The rows of `area` for the last month shown."""
    return [r for r in area_rows(rows, area) if months and r.get("month") == months[-1]]


def tile(indicator: dict[str, Any], answer: Answer, months: Sequence[str], area: str,
         csv: str = "") -> Tile:
    """One indicator's tile; a clear message in place of the chart when there is no answer."""
    if not answer.ok:
        return Tile(indicator, months, problem=answer.problem)
    position = answer.body.get("as_at_stream_sequence", "")
    measure = MEASURES.get(indicator["id"])
    if measure is None:
        return Tile(indicator, months, position=position, csv=csv)
    figures = answer.body.get("figures", [])
    series = series_of(area_rows(figures, area), months, measure)
    chart = chart_of(f"chart-{indicator['id']}", indicator["title"], months, series,
                     measure.unit, measure.percent, measure.axis_title)
    areas = area_series(figures, months, measure)
    areas_chart = chart_of(f"chart-{indicator['id']}-areas", f"{indicator['title']}: each area",
                           months, areas, measure.unit, measure.percent, measure.axis_title
                           ) if len(areas) > 1 else None
    return Tile(indicator, months, None, position, measure, series, chart, csv,
                [c for c in latest_of(answer.body.get("targets", []), months, area)
                 if c.get("period") in ("month", "rolling_12_months")],
                [p for p in latest_of(answer.body.get("periods", []), months, area)
                 if not p.get("group")],
                latest_of(figures, months, area) if measure.latest else (),
                areas if areas_chart else (), areas_chart, answer.body.get("england", []),
                answer.body.get("no_england_comparator", ""))
