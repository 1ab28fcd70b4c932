"""Annual health check uptake: people aged 14 and over on the learning disability register with
a GP annual health check in the 12 months to the day, per LA and partnership.

The definition shown beside the figures, the counting from each person's register entry (the
tracker's facts: `projections.tracker.queries.health_checks` builds the entries) and the
published, suppressed figure. Served as of a day, like the tracker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.definition import IndicatorDefinition, define
from projections.dataset.figures import Count, Percent
from projections.dataset.publishing import fixed
from projections.suppression import percentage

DEFINITION = define(
    "health-check-uptake",
    5,
    "Annual health checks: people aged 14+ on the learning disability register checked",
    "On the as-of date (default: the latest data date): on the register = people aged 14 or "
    "over on the day (a birthday taken as the last day of the birth month) with a learning "
    "disability diagnosis (health.diagnosis_recorded, learning_disability) recorded on or "
    "before it, counted under their LA; checked = those with a GP annual health check "
    "(health.annual_health_check_completed) completed in the 12 months to the day (after the "
    "same date a year earlier, up to and including the day). Percentage = checked / on the "
    "register x 100, to one decimal place.",
    "NHS England learning disability annual health check (from age 14); Northamptonshire's "
    "target of 75% of eligible people receiving one.",
    "as at the as-of date",
)

MEASURES = ("on_register", "checked", "not_checked")


@dataclass(frozen=True)
class RegisterEntry:
    """One person on the register on the day: their LA, and whether checked in the year."""

    la_code: str | None
    checked: bool


def check_counts(entries: Iterable[RegisterEntry]) -> dict[str | None, Counter[str]]:
    counts: dict[str | None, Counter[str]] = {}
    for e in entries:
        counts.setdefault(e.la_code, Counter()).update(
            ["on_register", "checked" if e.checked else "not_checked"])
    return counts


class HealthCheckFigure(BaseModel):
    area: str
    area_name: str
    on_register: Count
    checked: Count
    percent_checked: Percent


class HealthChecks(BaseModel):
    indicator: IndicatorDefinition
    as_of: date
    as_at_stream_sequence: int
    figures: list[HealthCheckFigure]


def health_check_figures(entries: Iterable[RegisterEntry], partnership: Partnership,
                         la: str | None) -> list[HealthCheckFigure]:
    """Per LA (or `la`'s only) and the partnership, suppressed."""
    return [
        HealthCheckFigure(area=a.area, area_name=a.area_name, on_register=a.cells["on_register"],
                          checked=a.cells["checked"],
                          percent_checked=percentage(a.cells["checked"], a.cells["on_register"]))
        for a in publish_areas(check_counts(entries), MEASURES, partnership, la,
                               fixed(("on_register", ("checked", "not_checked"))))
    ]
