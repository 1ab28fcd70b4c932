"""Days and timestamps for the synthetic population: date ordinals in, wire strings out.

Dates are `date.toordinal()` integers and times whole UTC seconds, so the renderer does integer
arithmetic; the strings are formatted exactly as pydantic serialises `date` and an aware UTC
`datetime` (`2025-01-06`, `2025-01-06T09:30:00Z`), so fast-path bytes equal `contracts.encode`.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

DAY = 86_400
EPOCH = date(1970, 1, 1).toordinal()
WINDOW_START = date(2019, 1, 1).toordinal()
"""The shared history starts here: what happened earlier in a story never reaches the bus."""


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
