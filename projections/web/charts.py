"""Monthly trend charts as inline SVG, drawn on the server. Pure: data in, markup out.

Why server-side SVG: no JavaScript chart library to ship or audit, the chart is in the page
for screen readers (`role="img"` with `<title>` and `<desc>` that state the latest values), and
every chart is paired with a table of the same figures (`figure_table`). Series differ by dash
pattern and marker as well as colour, so the chart reads without colour vision.

Suppressed cells ("<5", "c") and missing values are gaps in the line, never zeros: a hidden
count must not be drawn as if it were known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 340, 150
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 12, 26
PALETTE = ("#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0f766e")
"""Each at least 4.5:1 against white (WCAG AA for text, so comfortably for lines)."""
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")
Value = int | float | str | None


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Value]
    """One per month; a number, or a suppressed/missing cell ("<5", "c", None)."""


def numeric(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def shown(value: Value, unit: str = "") -> str:
    """How a cell reads in text: numbers with their unit, suppressed cells as published."""
    if value is None:
        return "no figure"
    if value == "c":
        return "c (hidden)"
    number = numeric(value)
    if number is None:
        return str(value)
    text = f"{number:.1f}" if isinstance(value, float) else f"{int(number):,}"
    return f"{text}{unit}"


def _nice_top(peak: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above `peak`: round gridline values."""
    if peak <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(peak))
    return float(next(m * magnitude for m in (1, 2, 5, 10) if peak <= m * magnitude))


def _axis_label(value: float, unit: str) -> str:
    return (f"{value:,.0f}" if value == int(value) else f"{value:,.1f}") + unit


def _point(index: int, count: int, value: float, top: float) -> tuple[float, float]:
    span = WIDTH - LEFT - RIGHT
    x = LEFT + (span * index / (count - 1) if count > 1 else span / 2)
    y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top)
    return round(x, 1), round(y, 1)


def _runs(values: Sequence[Value]) -> list[list[tuple[int, float]]]:
    """Consecutive known values: each run is drawn as one line, gaps between them."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        number = numeric(value)
        if number is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((index, number))
    return [run for run in runs if run]


def trend_chart(chart_id: str, title: str, months: Sequence[str], series: Sequence[Series],
                unit: str = "", percent: bool = False) -> str:
    """An accessible line chart of `series` over `months`."""
    known = [n for s in series for v in s.values if (n := numeric(v)) is not None]
    top = 100.0 if percent else _nice_top(max(known, default=0.0))
    latest = "; ".join(f"{s.name}: {shown(s.values[-1], unit)}" for s in series if s.values)
    span = f"{months[0]} to {months[-1]}" if months else "no months"
    desc = f"Monthly trend, {span}. Latest month: {latest or 'no figures'}."
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - fraction), 1)
        label = _axis_label(top * fraction, "%" if percent else "")
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
                     f'{escape(label)}</text>')
    if months:
        first_x, _ = _point(0, len(months), 0, top)
        last_x, _ = _point(len(months) - 1, len(months), 0, top)
        base = HEIGHT - 8
        parts.append(f'<text class="axis" x="{first_x}" y="{base}" text-anchor="start">'
                     f'{escape(months[0])}</text>')
        if len(months) > 1:
            parts.append(f'<text class="axis" x="{last_x}" y="{base}" text-anchor="end">'
                         f'{escape(months[-1])}</text>')
    for number, s in enumerate(series):
        colour, dash = PALETTE[number % len(PALETTE)], DASHES[number % len(DASHES)]
        for run in _runs(s.values):
            points = " ".join(f"{x},{y}" for x, y in (_point(i, len(months), v, top)
                                                       for i, v in run))
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5"{dashed} '
                         f'points="{points}"/>')
            for i, v in run:
                x, y = _point(i, len(months), v, top)
                parts.append(_marker(number, x, y, colour))
    parts.append("</svg>")
    return "".join(parts)


def _marker(number: int, x: float, y: float, colour: str) -> str:
    if number % 2:
        return (f'<rect x="{x - 3}" y="{y - 3}" width="6" height="6" fill="{colour}"/>')
    return f'<circle cx="{x}" cy="{y}" r="3.2" fill="{colour}"/>'


def legend(series: Sequence[Series]) -> str:
    items = []
    for number, s in enumerate(series):
        colour, dash = PALETTE[number % len(PALETTE)], DASHES[number % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        swatch = (f'<svg class="swatch" viewBox="0 0 24 10" aria-hidden="true"><line x1="0" '
                  f'y1="5" x2="24" y2="5" stroke="{colour}" stroke-width="3"{dashed}/></svg>')
        items.append(f"<li>{swatch}{escape(s.name)}</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def figure_table(caption: str, months: Sequence[str], series: Sequence[Series],
                 unit: str = "") -> str:
    """The chart's figures as a table: the text alternative, also for copying."""
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(month)}</th>'
        + "".join(f"<td>{escape(shown(s.values[i], unit))}</td>" for s in series)
        + "</tr>"
        for i, month in enumerate(months)
    )
    return (f'<table class="figures"><caption>{escape(caption)}</caption>'
            f'<thead><tr><th scope="col">Month</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")
