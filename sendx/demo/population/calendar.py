"""Days and timestamps for the synthetic population: date ordinals in, wire strings out.

Dates are `date.toordinal()` integers and times whole UTC seconds, so the generator does integer
arithmetic; the strings are formatted exactly as pydantic serialises `date` and an aware UTC
`datetime` (`2025-01-06`, `2025-01-06T09:30:00Z`), so fast-path bytes equal `contracts.encode`.
School-year rules (SEND Code of Practice): phase transfer into Year 7 needs the amended plan by
15 February of Year 6, post-16 transfer by 31 March of Year 11; a plan may run to the end of the
academic year in which the young person turns 25.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

DAY = 86_400
EPOCH = date(1970, 1, 1).toordinal()
WINDOW_START = date(2019, 1, 1).toordinal()
WINDOW_END = date(2026, 11, 1).toordinal()
"""The data cut: nothing occurs or is recorded on or after this day (exclusive)."""


def timestamp(day: int) -> int:
    """UTC seconds at midnight starting `day`."""
    return (day - EPOCH) * DAY


@lru_cache(maxsize=1 << 16)
def day_str(day: int) -> str:
    return date.fromordinal(day).isoformat()


_TIME_OF_DAY = [f"T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z" for s in range(DAY)]


def iso(ts: int) -> str:
    days, secs = divmod(ts, DAY)
    return day_str(days + EPOCH) + _TIME_OF_DAY[secs]


def _born(born: int) -> date:
    return date.fromordinal(born)


def birthday(born: int, years: int) -> int:
    b = _born(born)
    day = 28 if (b.month, b.day) == (2, 29) else b.day
    return date(b.year + years, b.month, day).toordinal()


def _school_start_year(born: int) -> int:
    """Calendar year the child's reception autumn term starts (the September after turning 4)."""
    b = _born(born)
    return b.year + (5 if b.month >= 9 else 4)


def feb_of_year6(born: int) -> int:
    return date(_school_start_year(born) + 7, 2, 15).toordinal()


def march_of_year11(born: int) -> int:
    return date(_school_start_year(born) + 12, 3, 31).toordinal()


def last_day_at_25(born: int) -> int:
    """31 August ending the academic year in which the young person turns 25."""
    b = _born(born)
    return date(b.year + 25 + (1 if b.month >= 9 else 0), 8, 31).toordinal()
