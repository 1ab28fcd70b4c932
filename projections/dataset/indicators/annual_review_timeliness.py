"""Indicator 4: annual reviews held within 12 months of the plan's issue or last review.

The definition shown beside the figures, the counting from review facts and the published
figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.dataset.counting import Tally, count_timed, month_of, new_tally
from projections.dataset.definition import TIMED, Measure, define
from projections.dataset.facts import ReviewFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    Timed,
    same,
    timed_relations,
)
from projections.dataset.snapshot import reviews_held
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "annual-review-timeliness",
    4,
    "Annual reviews held within 12 months",
    "For each local authority and month: held = ehc.annual_review_held meetings dated in the "
    "month. Each is compared with the plan's previous review, or its issue date for the first "
    "review; for a plan in force when the LA joined (ehc.plan_in_force_recorded), the first "
    "review after go-live is compared with the last review the go-live record gives, or the "
    "plan's issue date when it gives none; the review before go-live is not itself counted "
    "(it was not observed). Reviews of plans whose issue is not in the dataset are shown as "
    "no issue recorded and not counted. Of the rest (counted), within 12 months = held on or "
    "before the same date 12 months later (a month without that day uses its last day); a "
    f"review exactly 12 months after the last is within time. {TIMED}",
    "Children and Families Act 2014 s.44(1) and SEND Regulations 2014 reg. 18 (review at least "
    "every 12 months).",
    "reviews held in the calendar month",
)


def review_counts(reviews: Iterable[ReviewFact], months: Sequence[Month]) -> Tally:
    tally = new_tally()
    for r in reviews:
        month = month_of(r.held_on, months)
        if month is None:
            continue
        tally[(month, "")][r.la_code]["held"] += 1
        if r.previous_on is None:
            tally[(month, "")][r.la_code]["no_issue_recorded"] += 1
        count_timed(tally, (month, ""), r.la_code, r.within_twelve_months)
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return review_counts(reviews_held(s, months), months)


class ReviewFigure(AreaFigure):
    held: Count
    no_issue_recorded: Count
    counted: Count
    within_twelve_months: Count
    percent_within: Percent


class ReviewTimeliness(Figures):
    figures: list[ReviewFigure]


TIMED_FIGURE: Timed[ReviewTimeliness] = Timed(
    DEFINITION,
    counts,
    ReviewFigure,
    ReviewTimeliness,
    {**same("held", "no_issue_recorded", "counted"), "within": "within_twelve_months"},
    timed_relations("held", "no_issue_recorded"),
)


review_timeliness = TIMED_FIGURE.publish
"""Indicator 4: annual reviews held within 12 months of issue or the previous review."""


INDICATOR = TIMED_FIGURE.monthly(
    "Indicator 4: annual reviews held within 12 months",
    Measure((("percent_within", "Within 12 months"),), "%"),
)
