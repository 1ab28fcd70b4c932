"""Backlog: plans the LA decided to amend after a review and has not yet amended, and those
past the 12 weeks from the review meeting.

The definition shown beside the figures, the counting from review outcome facts and the
published figure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from contracts.timescales import amended_plan_due
from projections.dataset.backlog import Backlog, BacklogFigures, Days, each_day, open_between
from projections.dataset.counting import Tally, active_on, new_tally
from projections.dataset.definition import Measure, define
from projections.dataset.facts import AmendDecisionFact
from projections.dataset.figures import AreaFigure, Count
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "amendments-outstanding",
    4,
    "Backlog: amendments outstanding past 12 weeks",
    "For each local authority, counted on the day (by month: the month's last day): "
    "outstanding = review outcomes to amend the plan (ehc.review_outcome with outcome amend) "
    "decided on or before the day whose amended plan (ehc.plan_amended naming the same review "
    "meeting) had not been issued by it. Past 12 weeks = the day is more than 84 days after "
    "the review meeting (on the 84th day the amendment is still in time); the rest are within "
    "12 weeks.",
    "SEND Regulations 2014 reg. 22 and Code of Practice 9.194; Nottinghamshire's target of "
    "85% of amendments within 12 weeks.",
    "outstanding on the day",
)


def outstanding_counts(decisions: Iterable[AmendDecisionFact], days: Days) -> Tally:
    tally = new_tally()
    for label, day, d in each_day(days, decisions):
        if active_on(day, d.decided_on, d.amended_on):
            late = amended_plan_due(d.review_held_on) < day
            tally[(label, "")][d.la_code].update(
                ["outstanding", "past_12_weeks" if late else "within_12_weeks"]
            )
    return tally


def amend_decisions_open(snapshot: Snapshot, first: date, last: date) -> list[AmendDecisionFact]:
    return open_between(snapshot, "amend_decisions", "decided_on", "amended_on", first, last)


class AmendmentsOutstandingFigure(AreaFigure):
    outstanding: Count
    within_12_weeks: Count
    past_12_weeks: Count


class AmendmentsOutstanding(BacklogFigures):
    figures: list[AmendmentsOutstandingFigure]


BACKLOG: Backlog[AmendmentsOutstanding] = Backlog(
    DEFINITION, amend_decisions_open, outstanding_counts, AmendmentsOutstandingFigure,
    AmendmentsOutstanding, ("outstanding", "within_12_weeks", "past_12_weeks"),
)


amendments_outstanding = BACKLOG.publish
"""Backlog: plans the LA decided to amend after a review and has not yet amended, and those"""


INDICATOR = BACKLOG.monthly(
    "Backlog: amendments outstanding, and past 12 weeks",
    Measure((("past_12_weeks", "Past 12 weeks"), ("outstanding", "Outstanding")), "", None,
            "Amendments outstanding (count)"),
)
