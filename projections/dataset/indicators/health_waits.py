"""Indicator 5: health pathway waits: waiting at each month end by band, and how long first
assessments took, by pathway.

The definition shown beside the figures, the counting from referral facts and the published
figure (median and 90th percentile shown only over enough values)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date
from typing import get_args

from pydantic import Field

from contracts.vocab import Pathway
from projections.dataset.areas import Partnership, PublishedArea
from projections.dataset.counting import (
    Bands,
    Tally,
    Values,
    active_on,
    banded,
    month_of,
    new_tally,
    new_values,
    weeks_between,
)
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import ReferralFact
from projections.dataset.figures import AreaFigure, Count, Figures, Weeks
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    DatasetReadModel,
    area_rows,
    area_values,
    fixed,
    p90,
    read,
    stat,
)
from projections.dataset.snapshot import referrals_open_or_started
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "health-waits",
    5,
    "Health pathway waits",
    "For each local authority, month and pathway (neurodevelopmental, speech and language "
    "therapy, CAMHS, OT, paediatrics), counted under the person's LA: waiting = referrals "
    "(health.referral_made) dated on or before the last day of the month whose first "
    "assessment (health.assessment_started for the same referral) had not happened by that "
    "day, banded by the weeks waited at that day: 0-18 (under 18 weeks), 18-52 (18 weeks up to "
    "under 52) and 52+ (52 weeks or more); exactly 18 weeks falls in 18-52. A diagnosis naming "
    "the referral (health.diagnosis_recorded with its referral_id, and referral_org when "
    "another organisation holds it) also ends the wait for assessment if no assessment was "
    "recorded before it. Started = first assessments dated in the month; median and 90th "
    "percentile weeks from referral to that assessment are taken over them (statistics.median "
    "and statistics.quantiles, inclusive method, to one decimal place). Waiting for diagnosis "
    "= referrals dated on or before the month's last day with no diagnosis naming them by that "
    "day, banded the same way by the weeks waited at that day (diagnosis_waiting_0_18_weeks, "
    "diagnosis_waiting_18_52_weeks, diagnosis_waiting_52_plus_weeks); diagnosed = the first "
    "diagnoses naming a referral dated in the month, with the median and 90th "
    "percentile weeks from referral to diagnosis. A referral closed without any "
    "assessment (health.referral_closed: discharged, moved away, declined) ends both waits on "
    "the day it closed and is counted in that month as closed without assessment, never as "
    "started or diagnosed. Referrals recorded at go-live (migrated_from) count from their real "
    "referral date like any other.",
    "NHS referral-to-treatment waiting list bands; the partnerships' neurodevelopmental "
    "waiting-time KPIs (Nottinghamshire, Rutland).",
    "waiting as at the month's last day; waits ended in the calendar month",
)


PATHWAYS: tuple[str, ...] = get_args(Pathway)


WEEK_BANDS = (
    (0, 18, "waiting_0_18_weeks"),
    (18, 52, "waiting_18_52_weeks"),
    (52, None, "waiting_52_plus_weeks"),
)


DIAGNOSIS_WEEK_BANDS = tuple((low, high, f"diagnosis_{name}") for low, high, name in WEEK_BANDS)
"""The same bands for the wait from referral to diagnosis (the reference's "referral to
assessment/diagnosis", `../shared/domain.md` indicator 5)."""


def band_of(weeks: float, bands: Bands = WEEK_BANDS) -> str:
    """0-18: under 18 weeks; 18-52: 18 weeks up to under 52; 52+: 52 weeks or more."""
    return banded(weeks, bands)


def _first(*days: date | None) -> date | None:
    """The earliest of the days given (None when none is)."""
    return min((d for d in days if d is not None), default=None)


def assessment_wait_end(r: ReferralFact) -> date | None:
    """The first assessment, or the diagnosis naming the referral, or its closing."""
    return _first(r.started_on, r.diagnosed_on, r.closed_on)


def diagnosis_wait_end(r: ReferralFact) -> date | None:
    return _first(r.diagnosed_on, r.closed_on)


def _ended(
    tally: Tally, values: Values, months: Sequence[Month], r: ReferralFact, on: date | None,
    measure: str,
) -> None:
    month = month_of(on, months)
    if month is not None and on >= r.referred_on:
        tally[(month, r.pathway)][r.la_code][measure] += 1
        values[(month, r.pathway)][r.la_code].append(weeks_between(r.referred_on, on))


def wait_counts(
    referrals: Iterable[ReferralFact], months: Sequence[Month]
) -> tuple[Tally, Values, Values]:
    """Waiting for assessment (with bands) and for diagnosis at each month end and, for waits
    ended in the month, their length: to the first assessment, and to the diagnosis."""
    referrals = [r for r in referrals if r.referred_on is not None]
    tally, waits, diagnosis_waits, closed = new_tally(), new_values(), new_values(), new_values()
    for month in months:
        end = month.last_day
        for r in referrals:
            cell = tally[(str(month), r.pathway)][r.la_code]
            if active_on(end, r.referred_on, assessment_wait_end(r)):
                cell.update(["waiting", band_of(weeks_between(r.referred_on, end))])
            if active_on(end, r.referred_on, diagnosis_wait_end(r)):
                weeks = weeks_between(r.referred_on, end)
                cell.update(["waiting_for_diagnosis", band_of(weeks, DIAGNOSIS_WEEK_BANDS)])
    for r in referrals:
        first_assessment = r.started_on
        if r.closed_on is not None and (first_assessment or date.max) > r.closed_on:
            first_assessment = None
        _ended(tally, waits, months, r, first_assessment, "started")
        if r.closed_on is None or (r.diagnosed_on and r.diagnosed_on <= r.closed_on):
            _ended(tally, diagnosis_waits, months, r, r.diagnosed_on, "diagnosed")
        elif r.started_on is None and r.diagnosed_on is None:
            _ended(tally, closed, months, r, r.closed_on, "closed_without_assessment")
    return tally, waits, diagnosis_waits


def counts(s: Snapshot, months: Sequence[Month]) -> tuple[Tally, Values, Values]:
    """The exact counts, unsuppressed, and the waits (to assessment, to diagnosis) that ended
    in each month."""
    return wait_counts(referrals_open_or_started(s, months), months)


class WaitsFigure(AreaFigure):
    pathway: str
    waiting: Count = Field(description="Waiting at the month end.")
    waiting_0_18_weeks: Count
    waiting_18_52_weeks: Count
    waiting_52_plus_weeks: Count
    started: Count = Field(description="First assessments in the month.")
    median_weeks: Weeks
    p90_weeks: Weeks
    waiting_for_diagnosis: Count = Field(
        description="Referrals with no diagnosis naming them at the month end (not closed)."
    )
    diagnosis_waiting_0_18_weeks: Count
    diagnosis_waiting_18_52_weeks: Count
    diagnosis_waiting_52_plus_weeks: Count
    diagnosed: Count = Field(description="First diagnoses naming a referral, in the month.")
    diagnosis_median_weeks: Weeks
    diagnosis_p90_weeks: Weeks
    closed_without_assessment: Count = Field(
        description="Referrals closed in the month without any assessment (the wait ended)."
    )


class HealthWaits(Figures):
    figures: list[WaitsFigure]


def health_waits(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> HealthWaits:
    """Indicator 5: people waiting (with bands) and how long first assessments took."""
    partnership.check(la)
    position, (tally, waits, diagnosis_waits) = read(read_model, counts, months)
    bands = [name for _, _, name in WEEK_BANDS]
    diagnosis_bands = [name for _, _, name in DIAGNOSIS_WEEK_BANDS]
    relations = fixed(("waiting", bands), ("waiting_for_diagnosis", diagnosis_bands))
    measures = [
        "waiting", *bands, "started", "waiting_for_diagnosis", *diagnosis_bands, "diagnosed",
        "closed_without_assessment",
    ]
    rows = []
    for month, pathway, a in area_rows(
        tally, months, PATHWAYS, measures, partnership, la, relations
    ):
        rows.append(
            WaitsFigure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                pathway=pathway,
                **{m: a.cells[m] for m in measures},
                **_stats(waits, (month, pathway), a, "started", ""),
                **_stats(diagnosis_waits, (month, pathway), a, "diagnosed", "diagnosis_"),
            )
        )
    return HealthWaits(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


def _stats(
    values: Values, key: tuple[str, str], a: PublishedArea, count: str, prefix: str
) -> dict[str, float | None]:
    """Median and 90th percentile of the waits behind a shown count (none behind `<5`)."""
    shown = isinstance(a.cells[count], int)
    waits = area_values(values, key, a.area)
    return {
        f"{prefix}median_weeks": stat(waits, statistics.median) if shown else None,
        f"{prefix}p90_weeks": stat(waits, p90) if shown else None,
    }


INDICATOR = Monthly(
    DEFINITION, counts, health_waits, HealthWaits,
    "Indicator 5: health pathway waits",
    Measure((("waiting", "Waiting"),), "", "pathway", "People waiting (count)",
            (("median_weeks", "Median wait (weeks)"), ("p90_weeks", "90th percentile (weeks)"))),
)
