"""Backlog: annual reviews due and not held, by weeks overdue.

Not the reviews held late (indicator 4 counts those when they are held) but the ones still
waiting: a plan whose review is overdue and has not happened shows in no count of reviews held.
The definition shown beside the figures, the counting from plan and review facts and the
published figure."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from contracts.timescales import annual_review_due
from projections.dataset.backlog import Backlog, BacklogFigures, Days, each_day, open_between
from projections.dataset.counting import Tally, active_on, banded, new_tally, weeks_between
from projections.dataset.definition import Measure, define
from projections.dataset.facts import PlanFact, ReviewFact
from projections.dataset.figures import AreaFigure, Count
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "reviews-overdue",
    4,
    "Backlog: annual reviews due and not held",
    "For each local authority, counted on the day (by month: the month's last day): overdue = "
    "EHC plans maintained on the day (issued on or before it, not ceased by it) whose next "
    "annual review was due before the day and had not been held by it. The review is due 12 "
    "months after the plan's issue or its last review meeting held by the day (a month "
    "without that day uses its last day); on the due date itself it is not yet overdue. Weeks "
    "overdue = weeks from the due date to the day: 0-4 (under 4 weeks), 4-12 (4 up to under "
    "12) and 12+ (12 weeks or more).",
    "Children and Families Act 2014 s.44(1) and SEND Regulations 2014 reg. 18; "
    "Nottinghamshire's target of reviews within 12 months.",
    "overdue on the day",
)

BANDS = (
    (0, 4, "overdue_0_4_weeks"),
    (4, 12, "overdue_4_12_weeks"),
    (12, None, "overdue_12_plus_weeks"),
)

PlanKey = tuple[str, str, str]
"""(person key, LA code, plan id)."""


def overdue_counts(facts: tuple[list[PlanFact], list[ReviewFact]], days: Days) -> Tally:
    plans, reviews = facts
    held: dict[PlanKey, list[date]] = defaultdict(list)
    for r in reviews:
        held[(r.person_key, r.la_code, r.plan_id)].append(r.held_on)
    tally = new_tally()
    for label, day, p in each_day(days, plans):
        if not active_on(day, p.issued_on, p.ceased_on):
            continue
        meetings = [d for d in held[(p.person_key, p.la_code, p.plan_id)] if d <= day]
        due = annual_review_due(max([p.issued_on, *meetings]))
        if due < day:
            band = banded(weeks_between(due, day), BANDS)
            tally[(label, "")][p.la_code].update(["overdue", band])
    return tally


def plans_and_reviews(
    snapshot: Snapshot, first: date, last: date
) -> tuple[list[PlanFact], list[ReviewFact]]:
    plans = open_between(snapshot, "ehc_plans", "issued_on", "ceased_on", first, last)
    reviews = snapshot.rows("annual_reviews", "held_on <= ?", (last.isoformat(),))
    return plans, reviews


class ReviewsOverdueFigure(AreaFigure):
    overdue: Count
    overdue_0_4_weeks: Count
    overdue_4_12_weeks: Count
    overdue_12_plus_weeks: Count


class ReviewsOverdue(BacklogFigures):
    figures: list[ReviewsOverdueFigure]


BACKLOG: Backlog[ReviewsOverdue] = Backlog(
    DEFINITION, plans_and_reviews, overdue_counts, ReviewsOverdueFigure, ReviewsOverdue,
    ("overdue", *(name for _, _, name in BANDS)),
)


reviews_overdue = BACKLOG.publish
"""Backlog: annual reviews due and not held, by weeks overdue."""


INDICATOR = BACKLOG.monthly(
    "Backlog: annual reviews due and not held, by weeks overdue",
    Measure((("overdue", "Overdue"),), "", None, "Reviews overdue (count)"),
)
