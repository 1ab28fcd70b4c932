"""Indicator 5: health pathway waits: waiting at each month end by band, and how long first
assessments took, by pathway.

The definition shown beside the figures, the counting from referral facts and the published
figure (median and 90th percentile shown only over enough values)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import get_args

from pydantic import Field

from contracts.vocab import Pathway
from projections.dataset.areas import Partnership
from projections.dataset.counting import (
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
    "under 52) and 52+ (52 weeks or more); exactly 18 weeks falls in 18-52. Started = first "
    "assessments dated in the month; median and 90th percentile weeks from referral to that "
    "assessment are taken over them (statistics.median and statistics.quantiles, inclusive "
    "method, to one decimal place).",
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


def band_of(weeks: float) -> str:
    """0-18: under 18 weeks; 18-52: 18 weeks up to under 52; 52+: 52 weeks or more."""
    return banded(weeks, WEEK_BANDS)


def wait_counts(referrals: Iterable[ReferralFact], months: Sequence[Month]) -> tuple[Tally, Values]:
    """Waiting at each month end (with bands) and, for waits ended in the month, their length."""
    referrals = [r for r in referrals if r.referred_on is not None]
    tally, waits = new_tally(), new_values()
    for month in months:
        end = month.last_day
        for r in referrals:
            if active_on(end, r.referred_on, r.started_on):
                key = (str(month), r.pathway)
                tally[key][r.la_code].update(
                    ["waiting", band_of(weeks_between(r.referred_on, end))]
                )
    for r in referrals:
        month = month_of(r.started_on, months)
        if month is not None and r.started_on >= r.referred_on:
            tally[(month, r.pathway)][r.la_code]["started"] += 1
            waits[(month, r.pathway)][r.la_code].append(weeks_between(r.referred_on, r.started_on))
    return tally, waits


def counts(s: Snapshot, months: Sequence[Month]) -> tuple[Tally, Values]:
    """The exact counts, unsuppressed, and the waits that ended in each month."""
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
    position, (tally, waits) = read(read_model, counts, months)
    bands = [name for _, _, name in WEEK_BANDS]
    relations = fixed(("waiting", bands))
    rows = []
    for month, pathway, a in area_rows(
        tally, months, PATHWAYS, ["waiting", *bands, "started"], partnership, la, relations
    ):
        values = area_values(waits, (month, pathway), a.area)
        shown = isinstance(a.cells["started"], int)
        rows.append(
            WaitsFigure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                pathway=pathway,
                **{m: a.cells[m] for m in ["waiting", *bands, "started"]},
                median_weeks=stat(values, statistics.median) if shown else None,
                p90_weeks=stat(values, p90) if shown else None,
            )
        )
    return HealthWaits(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


INDICATOR = Monthly(
    DEFINITION, counts, health_waits, HealthWaits,
    "Indicator 5: health pathway waits",
    Measure((("waiting", "Waiting"),), "", "pathway", "People waiting (count)",
            (("median_weeks", "Median wait (weeks)"), ("p90_weeks", "90th percentile (weeks)"))),
)
