"""Calendar months, the reporting period of every dashboard indicator ("by month")."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadPeriod(ValueError):
    """A month or month range a user gave cannot be used; the message says why."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, name: str = "month") -> Month:
        match = _MONTH.match(text)
        if not match or not 1 <= int(match[2]) <= 12:
            raise BadPeriod(f"{name} must be a month written YYYY-MM (e.g. 2025-01), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last` inclusive (at most MAX_MONTHS)."""
    if first > last:
        raise BadPeriod(f"the range starts ({first}) after it ends ({last})")
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count > MAX_MONTHS:
        raise BadPeriod(f"ask for at most {MAX_MONTHS} months at a time, not {count}")
    return [first.plus(i) for i in range(count)]
