"""Indicator 3: decisions whether to assess made within 6 weeks of the request.

The definition shown beside the figures, the counting from decision facts and the published
figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.dataset.counting import Tally, count_timed, month_of, new_tally
from projections.dataset.definition import TIMED, Measure, define
from projections.dataset.facts import DecisionFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    Timed,
    same,
    timed_relations,
)
from projections.dataset.snapshot import decisions_made
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "decision-timeliness",
    3,
    "Decisions whether to assess made within 6 weeks",
    "For each local authority and month: decided = ehc.assessment_decided (to assess or not) "
    "dated in the month. Decisions whose request (ehc.assessment_requested for the same LA case) "
    "is not in the dataset are shown as no request recorded and not counted. Of the rest "
    "(counted), within 6 weeks = decided no more than 42 days after the LA received the "
    "request; a decision exactly 6 weeks after the request is within time. A decision held "
    "at go-live (ehc.assessment_step_recorded with its decided_on, from assessing on) counts "
    f"in the month of decided_on against the request date the record gives. {TIMED}",
    "SEND Regulations 2014 reg. 5(1); comparable with the LA's 6-week decision KPI.",
    "decisions dated in the calendar month",
)


def decision_counts(decisions: Iterable[DecisionFact], months: Sequence[Month]) -> Tally:
    tally = new_tally()
    for d in decisions:
        month = month_of(d.decided_on, months)
        if month is None:
            continue
        tally[(month, "")][d.la_code]["decided"] += 1
        if d.requested_on is None:
            tally[(month, "")][d.la_code]["no_request_recorded"] += 1
        count_timed(tally, (month, ""), d.la_code, d.within_six_weeks)
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return decision_counts(decisions_made(s, months), months)


class DecisionFigure(AreaFigure):
    decided: Count
    no_request_recorded: Count
    counted: Count
    within_six_weeks: Count
    percent_within: Percent


class DecisionTimeliness(Figures):
    figures: list[DecisionFigure]


TIMED_FIGURE: Timed[DecisionTimeliness] = Timed(
    DEFINITION,
    counts,
    DecisionFigure,
    DecisionTimeliness,
    {**same("decided", "no_request_recorded", "counted"), "within": "within_six_weeks"},
    timed_relations("decided", "no_request_recorded"),
)


decision_timeliness = TIMED_FIGURE.publish
"""Indicator 3: decisions whether to assess within 6 weeks of the request."""


INDICATOR = TIMED_FIGURE.monthly(
    "Indicator 3: decisions whether to assess within 6 weeks",
    Measure((("percent_within", "Within 6 weeks"),), "%"),
)
