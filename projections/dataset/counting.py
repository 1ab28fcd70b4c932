"""What every indicator's counting shares: the tallies, and the date rules. Pure.

Each indicator counts its facts into monthly counts per LA in its own module
(`projections/dataset/indicators/`). The date rules are in the indicators' definitions: a stock
(plans maintained, people waiting, placements active) is taken on the last day of the month; a
flow (plans issued, decisions, reviews, advice returned, assessments started, placements ended)
is counted in the month its date falls in. Timeliness itself was judged once, when the facts
were derived (`facts.py`, through `contracts.timescales`).
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date

from projections.dataset.periods import Month

Tally = dict[tuple[str, str], dict[str | None, Counter[str]]]
"""(month, breakdown group or "") -> LA code (None: unknown) -> measure -> count."""
Values = dict[tuple[str, str], dict[str | None, list[float]]]
"""(month, group) -> LA code -> the values a median/percentile is taken of."""

def new_tally() -> Tally:
    return defaultdict(lambda: defaultdict(Counter))


def new_values() -> Values:
    return defaultdict(lambda: defaultdict(list))


def active_on(day: date, started: date | None, ended: date | None) -> bool:
    """Started on or before `day` and not ended on or before it."""
    return started is not None and started <= day and (ended is None or ended > day)


def month_of(day: date | None, months: Sequence[Month]) -> str | None:
    if day is None:
        return None
    month = Month.of(day)
    return str(month) if months[0] <= month <= months[-1] else None


def weeks_between(start: date, end: date) -> float:
    return (end - start).days / 7


Bands = tuple[tuple[float, float | None, str], ...]
"""(from weeks, up to but not including weeks or None, measure name)."""


def banded(weeks: float, bands: Bands) -> str:
    """The band `weeks` falls in: from its lower bound up to (not including) its upper one."""
    return next(
        name for low, high, name in bands if weeks >= low and (high is None or weeks < high)
    )


def count_timed(tally: Tally, key: tuple[str, str], la: str | None, within: bool | None) -> None:
    """Count one timed item: counted, and within or late (None: not counted, no start known)."""
    if within is None:
        return
    tally[key][la].update(["counted", "within" if within else "late"])


def age_on(birth_month: str | None, day: date) -> int | None:
    """Completed years on `day` of someone born in `birth_month` (YYYY-MM), the birthday taken
    as the last day of the birth month (as the tracker takes it: nobody is counted a year older
    before they are); None without a birth month (erased, or never registered)."""
    if birth_month is None:
        return None
    year, month = (int(part) for part in birth_month.split("-"))
    birthday = date(day.year, month, calendar.monthrange(day.year, month)[1])
    return day.year - year - (day < birthday)


def a_year_before(day: date) -> date:
    """The same day a year earlier (29 February -> 28 February)."""
    return date(day.year - 1, day.month, min(day.day, calendar.monthrange(day.year - 1,
                                                                          day.month)[1]))


def days_between(start: date, end: date) -> int:
    return (end - start).days


def count_closed(
    tally: Tally, values: Values, la: str | None, opened: date | None, closed: date | None,
    outcome: str | None, months: Sequence[Month], measure: str,
    length: Callable[[date, date], float],
) -> None:
    """Count one appeal or complaint closed in its month, by outcome, with how long it took
    (from `opened`, when known)."""
    if (month := month_of(closed, months)) is None or closed is None:
        return
    tally[(month, "")][la].update([measure, f"outcome:{outcome}"])
    if opened is not None:
        values[(month, "")][la].append(length(opened, closed))
