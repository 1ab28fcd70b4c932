"""Year to date and rolling 12 months beside the monthly timeliness figures: a month of a
small LA is often a handful of plans, so a board reads the longer periods to see a trend.

Summed from the same exact monthly counts as the figures (`Monthly.counts`) and suppressed
by the same rule (`areas.publish_areas`): counted = within + late, per LA and partnership.
The financial year starts in April, as SEN2 and the partnerships' plans count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.definition import Monthly
from projections.dataset.figures import PeriodFigure
from projections.dataset.periods import Month, months_between
from projections.dataset.publishing import DatasetReadModel, fixed
from projections.dataset.targets import figure_fields
from projections.suppression import percentage

MEASURES = ("counted", "within", "late")
YEAR_STARTS = 4
"""April: the financial (and SEN2 reporting) year."""


def year_start(month: Month) -> Month:
    return Month(month.year if month.month >= YEAR_STARTS else month.year - 1, YEAR_STARTS)


def windows(month: Month) -> tuple[tuple[str, list[Month]], ...]:
    """The periods ending in `month`: year to date, and the 12 months to it."""
    return (
        ("year_to_date", months_between(year_start(month), month)),
        ("rolling_12_months", months_between(month.plus(-11), month)),
    )


def is_timed(spec: Monthly) -> bool:
    return "percent_within" in figure_fields(spec.model)


def period_figures(
    spec: Monthly,
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> list[PeriodFigure]:
    """Each month's year to date and rolling 12 months of a timeliness indicator (else none)."""
    if not is_timed(spec):
        return []
    first = min(months[0].plus(-11), year_start(months[0]))
    with read_model.snapshot() as snap:
        tally = spec.counts(snap, months_between(first, months[-1]))
    groups = sorted({group for _, group in tally}) or [""]
    rows = []
    for month in months:
        for period, window in windows(month):
            for group in groups:
                summed: dict[str | None, Counter[str]] = {}
                for m in window:
                    for code, counts in tally.get((str(m), group), {}).items():
                        summed.setdefault(code, Counter()).update(
                            {k: counts[k] for k in MEASURES})
                for a in publish_areas(summed, MEASURES, partnership, la,
                                       fixed(("counted", ("within", "late")))):
                    rows.append(PeriodFigure(
                        month=str(month), period=period, area=a.area, area_name=a.area_name,
                        group=group, counted=a.cells["counted"], within=a.cells["within"],
                        percent_within=percentage(a.cells["within"], a.cells["counted"]),
                    ))
    return rows
