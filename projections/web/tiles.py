"""Indicator tiles: the headline figure, a monthly trend chart, the table, the definition.

Which measure a tile charts is the only per-indicator knowledge (`MEASURES`, from each
indicator's module in `projections/dataset/indicators/`); everything else comes from the API's
answer (figures by month and area, and the indicator's definition),
so a new monthly indicator gets a tile with its table even before it gets a measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from projections.dataset.indicators import MEASURES, Measure
from projections.web.api_reader import Answer
from projections.web.charts import Series, figure_table, legend, shown, trend_chart

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


def definition_block(indicator: dict[str, Any]) -> str:
    return (
        '<details class="definition"><summary>Definition</summary>'
        f"<p>{escape(indicator.get('definition', ''))}</p>"
        f"<p class=\"source\"><strong>Source:</strong> {escape(indicator.get('source', ''))}</p>"
        f"<p class=\"source\"><strong>Period:</strong> {escape(indicator.get('period', ''))}</p>"
        "</details>"
    )


def tile(indicator: dict[str, Any], answer: Answer, months: Sequence[str], area: str) -> str:
    """One indicator's tile; a clear message in place of the chart when there is no answer."""
    ident = escape(indicator["id"])
    heading = (f'<h3 id="tile-{ident}-h"><span class="number">{indicator.get("number", "")}'
               f'</span> {escape(indicator["title"])}</h3>')
    if not answer.ok:
        body = f'<p class="unavailable">{escape(answer.problem)}</p>'
        return (f'<article class="tile" id="tile-{ident}" aria-labelledby="tile-{ident}-h">'
                f"{heading}{body}{definition_block(indicator)}</article>")
    rows = area_rows(answer.body.get("figures", []), area)
    measure = MEASURES.get(indicator["id"])
    if measure is None:
        body = '<p class="unavailable">No chart for this indicator yet; see the API.</p>'
    else:
        series = series_of(rows, months, measure)
        body = _headline(series, measure, months) + trend_chart(
            f"chart-{ident}", indicator["title"], months, series, measure.unit, measure.percent
        ) + legend(series) + (
            '<details class="table"><summary>Figures as a table</summary>'
            + figure_table(f"{indicator['title']}, by month", months, series, measure.unit)
            + "</details>"
        )
    return (f'<article class="tile" id="tile-{ident}" aria-labelledby="tile-{ident}-h" '
            f'data-position="{answer.body.get("as_at_stream_sequence", "")}">'
            f"{heading}{body}{definition_block(indicator)}</article>")


def _headline(series: Sequence[Series], measure: Measure, months: Sequence[str]) -> str:
    if not series or not months:
        return '<p class="headline">No figures for this period.</p>'
    if measure.split is not None:
        return (f'<p class="headline-note">{escape(months[-1])}: '
                f'{len(series)} series, see the chart and table.</p>')
    parts = "".join(
        f'<div class="headline"><span class="value" data-testid="headline-{escape(s.name)}">'
        f'{escape(_headline_value(s.values[-1], measure.unit))}</span>'
        f'<span class="label">{escape(s.name)}, {escape(months[-1])}'
        f'{" (no figure: nothing counted)" if s.values[-1] is None else ""}</span></div>'
        for s in series
    )
    return f'<div class="headlines">{parts}</div>'


def _headline_value(value: object, unit: str) -> str:
    return "\u2013" if value is None else shown(value, unit)  # type: ignore[arg-type]
