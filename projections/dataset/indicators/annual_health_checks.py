"""Indicator 8: annual health check uptake: people aged 14 and over on the learning-disability
register with a check in the last 12 months, against the partnership's target.

One indicator, two uses: by month from the dataset (`/api/indicators/annual-health-checks`)
and as of a day from the tracker's facts (`/api/tracker/health-checks`,
`projections.tracker.queries.health_checks` builds the entries). Each with its definition, its
counting and its published, suppressed figure. The target (Northamptonshire's 75%) is in the
partnership's targets file, judged like every other target."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.counting import Tally, a_year_before, age_on, new_tally
from projections.dataset.definition import IndicatorDefinition, Measure, Monthly, define
from projections.dataset.facts import HealthCheckFact, LdRegisterFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, fixed, read
from projections.dataset.snapshot import health_checks_for, ld_register_by
from projections.readmodel.store import Snapshot
from projections.suppression import percentage

ELIGIBLE_FROM_AGE = 14

DEFINITION = define(
    "annual-health-checks",
    8,
    "Annual health checks: people aged 14+ on the learning-disability register checked",
    "For each local authority and month, on the last day of the month: eligible = people on "
    "the learning-disability register (a health.diagnosis_recorded of a learning disability "
    "dated on or before that day) aged 14 or over on that day, counted under their LA; "
    "checked = eligible people with a health.annual_health_check_completed dated in the 12 "
    "months ending that day (after the same day a year before, up to and including it); not "
    "checked = eligible - checked. Uptake = checked / eligible x 100, to one decimal place, "
    "shown beside the target in force (the partnership's targets file). Ages use the birth "
    "month only: a "
    "birthday is taken as the last day of the birth month; people with no birth month (erased) "
    "are not counted.",
    "NHS England learning disability annual health checks (GP DES, from age 14); target: "
    "Northamptonshire all-age LD and autism road map (75% of eligible people aged 14+, "
    "deploy/partnership/targets.toml); "
    "comparable with NHS Digital 'Health and Care of People with Learning Disabilities'.",
    "as at the last day of the month, checks in the 12 months to it",
)


def uptake_counts(
    register: Iterable[LdRegisterFact], checks: Iterable[HealthCheckFact], months: Sequence[Month]
) -> Tally:
    """Eligible, checked and not checked at each month end, per LA."""
    register = list(register)
    checked_on: dict[str, list[date]] = defaultdict(list)
    for check in checks:
        checked_on[check.person_key].append(check.completed_on)
    tally = new_tally()
    for month in months:
        end = month.last_day
        since = a_year_before(end)
        for person in register:
            age = age_on(person.birth_month, end)
            if person.on_register_from > end or age is None or age < ELIGIBLE_FROM_AGE:
                continue
            checked = any(since < day <= end for day in checked_on[person.person_key])
            tally[(str(month), "")][person.la_code].update(
                ["eligible", "checked" if checked else "not_checked"]
            )
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return uptake_counts(ld_register_by(s, months), health_checks_for(s, months), months)


class HealthCheckFigure(AreaFigure):
    eligible: Count = Field(description="Aged 14+ on the LD register at the month end.")
    checked: Count = Field(description="Of those, with a check in the 12 months to it.")
    not_checked: Count = Field(description="Of those, with no check in the 12 months to it.")
    percent_checked: Percent


class HealthChecks(Figures):
    figures: list[HealthCheckFigure]


MEASURES = ("eligible", "checked", "not_checked")


def annual_health_checks(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> HealthChecks:
    """Indicator 8: annual health check uptake by LA and month, against the target."""
    partnership.check(la)
    position, tally = read(read_model, counts, months)
    rows = [
        HealthCheckFigure(
            month=month,
            area=a.area,
            area_name=a.area_name,
            **a.cells,
            percent_checked=percentage(a.cells["checked"], a.cells["eligible"]),
        )
        for month, _, a in area_rows(
            tally, months, [""], MEASURES, partnership, la,
            fixed(("eligible", ("checked", "not_checked"))),
        )
    ]
    return HealthChecks(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


INDICATOR = Monthly(
    DEFINITION, counts, annual_health_checks, HealthChecks,
    "Indicator 8: annual health check uptake (LD register, aged 14+) against the target",
    Measure((("percent_checked", "Checked in 12 months"),), unit="%"),
)


# As of a day, from the tracker's facts (`/api/tracker/health-checks`).

ON_A_DAY = define(
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
    "target of 75% of eligible people receiving one (indicator 8 judges it by month).",
    "as at the as-of date",
)

DAY_MEASURES = ("on_register", "checked", "not_checked")


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


class DayFigure(BaseModel):
    area: str
    area_name: str
    on_register: Count
    checked: Count
    percent_checked: Percent


class HealthChecksOnADay(BaseModel):
    indicator: IndicatorDefinition
    as_of: date
    as_at_stream_sequence: int
    figures: list[DayFigure]


def health_check_figures(entries: Iterable[RegisterEntry], partnership: Partnership,
                         la: str | None) -> list[DayFigure]:
    """Per LA (or `la`'s only) and the partnership, suppressed."""
    return [
        DayFigure(area=a.area, area_name=a.area_name, on_register=a.cells["on_register"],
                          checked=a.cells["checked"],
                          percent_checked=percentage(a.cells["checked"], a.cells["on_register"]))
        for a in publish_areas(check_counts(entries), DAY_MEASURES, partnership, la,
                               fixed(("on_register", ("checked", "not_checked"))))
    ]
