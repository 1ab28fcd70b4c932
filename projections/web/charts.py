"""Monthly trend charts as inline SVG, drawn on the server. Pure: data in, geometry out; the
markup is `templates/charts.html`.

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

from projections.web.cells import Value, numeric, shown
from projections.web.templating import macro

WIDTH, HEIGHT = 340, 160
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 22, 26
PALETTE = ("#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0f766e")
"""Each at least 4.5:1 against white (WCAG AA for text, so comfortably for lines)."""
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Value]
    """One per month; a number, or a suppressed/missing cell ("<5", "c", None)."""


@dataclass(frozen=True)
class Style:
    """How the n-th series is drawn: colour, dash pattern, and square or round markers."""

    colour: str
    dash: str
    square: bool

    @classmethod
    def of(cls, number: int) -> Style:
        return cls(PALETTE[number % len(PALETTE)], DASHES[number % len(DASHES)], bool(number % 2))


@dataclass(frozen=True)
class Gridline:
    y: float
    label: str


@dataclass(frozen=True)
class MonthLabel:
    x: float
    anchor: str
    text: str


@dataclass(frozen=True)
class Line:
    """One run of consecutive known values of a series: a polyline and its markers."""

    style: Style
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    gridlines: tuple[Gridline, ...]
    month_labels: tuple[MonthLabel, ...]
    lines: tuple[Line, ...]
    axis: str = ""
    """The value axis's title, with its unit (e.g. "Percentage (%)")."""
    x_axis: str = "Month"
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    base: int = HEIGHT - 8


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


def _month_labels(months: Sequence[str], top: float) -> tuple[MonthLabel, ...]:
    """The first and the last month under the x axis."""
    if not months:
        return ()
    first_x, _ = _point(0, len(months), 0, top)
    last_x, _ = _point(len(months) - 1, len(months), 0, top)
    first = MonthLabel(first_x, "start", months[0])
    return (first,) if len(months) == 1 else (first, MonthLabel(last_x, "end", months[-1]))


def chart_of(chart_id: str, title: str, months: Sequence[str], series: Sequence[Series],
             unit: str = "", percent: bool = False, axis: str = "") -> Chart:
    """The geometry of a line chart of `series` over `months`, and its text alternative."""
    known = [n for s in series for v in s.values if (n := numeric(v)) is not None]
    top = 100.0 if percent else _nice_top(max(known, default=0.0))
    latest = "; ".join(f"{s.name}: {shown(s.values[-1], unit)}" for s in series if s.values)
    span = f"{months[0]} to {months[-1]}" if months else "no months"
    gridlines = tuple(
        Gridline(round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - fraction), 1),
                 _axis_label(top * fraction, "%" if percent else ""))
        for fraction in (0, 0.5, 1)
    )
    lines = tuple(
        Line(Style.of(number), tuple(_point(i, len(months), v, top) for i, v in run))
        for number, s in enumerate(series) for run in _runs(s.values)
    )
    axis = axis or ("Percentage (%)" if percent else "Number (count)")
    return Chart(chart_id, title,
                 f"Monthly trend, {span}; {axis} by month. Latest month: {latest or 'no figures'}.",
                 gridlines, _month_labels(months, top), lines, axis)


def styled(series: Sequence[Series]) -> list[tuple[Series, Style]]:
    """Each series with the style its line is drawn in (for the legend)."""
    return [(s, Style.of(number)) for number, s in enumerate(series)]


def trend_chart(chart_id: str, title: str, months: Sequence[str], series: Sequence[Series],
                unit: str = "", percent: bool = False) -> str:
    """An accessible line chart of `series` over `months`, as markup."""
    return str(macro("charts.html", "trend_chart")(
        chart_of(chart_id, title, months, series, unit, percent)))


def figure_table(caption: str, months: Sequence[str], series: Sequence[Series],
                 unit: str = "") -> str:
    """The chart's figures as a table: the text alternative, also for copying."""
    return str(macro("charts.html", "figure_table")(caption, months, series, unit))
