"""Indicator 4: amended plans issued within 12 weeks of the review meeting.

The definition shown beside the figures, the counting from amendment facts and the published
figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.dataset.counting import Tally, count_timed, month_of, new_tally
from projections.dataset.definition import TIMED, Measure, define
from projections.dataset.facts import AmendmentFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    Timed,
    fixed,
)
from projections.dataset.snapshot import amendments_issued
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "amendment-timeliness",
    4,
    "Amended plans issued within 12 weeks of the review meeting",
    "For each local authority and month: amended = ehc.plan_amended dated in the month that name "
    "the review meeting they follow (review_held_on); amendments for other reasons are not "
    "counted. Within 12 weeks = issued no more than 84 days after the meeting (4 weeks to "
    f"propose the amendments plus 8 weeks to finalise); exactly 12 weeks is within time. {TIMED}",
    "SEND Regulations 2014 reg. 22 and Code of Practice 9.194; a Nottinghamshire KPI.",
    "amended plans issued in the calendar month",
)


def amendment_counts(amendments: Iterable[AmendmentFact], months: Sequence[Month]) -> Tally:
    tally = new_tally()
    for a in amendments:
        month = month_of(a.amended_on, months)
        if month is not None:
            tally[(month, "")][a.la_code]["amended"] += 1
            count_timed(tally, (month, ""), a.la_code, a.within_twelve_weeks)
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return amendment_counts(amendments_issued(s, months), months)


class AmendmentFigure(AreaFigure):
    amended: Count
    within_twelve_weeks: Count
    percent_within: Percent


class AmendmentTimeliness(Figures):
    figures: list[AmendmentFigure]


TIMED_FIGURE: Timed[AmendmentTimeliness] = Timed(
    DEFINITION,
    counts,
    AmendmentFigure,
    AmendmentTimeliness,
    {"amended": "amended", "within": "within_twelve_weeks"},
    fixed(("amended", ("within", "late"))),
    denominator="amended",
)


amendment_timeliness = TIMED_FIGURE.publish
"""Indicator 4: amended plans issued within 12 weeks of the review meeting."""


INDICATOR = TIMED_FIGURE.monthly(
    "Indicator 4: amended plans issued within 12 weeks of the review",
    Measure((("percent_within", "Within 12 weeks"),), "%"),
)
