"""Indicator 2: new EHC plans issued within 20 weeks, exceptions counted apart.

The definition shown beside the figures, the counting from plan facts (timeliness itself was
judged once, in `facts.py`, through `contracts.timescales`) and the published figure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field

from projections.dataset.counting import Tally, count_timed, month_of, new_tally
from projections.dataset.definition import TIMED, Measure, define
from projections.dataset.facts import PlanFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    Timed,
    same,
    timed_relations,
)
from projections.dataset.snapshot import plans_issued
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "twenty-week-timeliness",
    2,
    "New EHC plans issued within 20 weeks (excluding exception cases)",
    "For each local authority and month: issued = new EHC plans whose ehc.plan_issued date "
    "falls in the month. Plans where an exception in SEND Regulations 2014 reg. 13(3) applied "
    "(child or parent away for 4 weeks or more, exceptional personal circumstances, school or "
    "college closed for 4 weeks or more) are shown separately as exceptions and not counted; so "
    "are plans whose request for assessment (ehc.assessment_requested for the same LA case) is "
    "not in the dataset (no request recorded). Of the remaining plans (counted), within 20 "
    "weeks = those issued no more than 20 weeks (140 days) after the date the LA received the "
    f"request; a plan issued exactly 140 days after the request is within time. Plans in force "
    "when the LA joined (ehc.plan_in_force_recorded, recorded at go-live from its existing "
    "system) are not new plans issued and are not counted, unless the go-live record gives "
    "the date the request was received: they are then counted in the month they were issued, "
    "judged against that date like any other plan. A plan issued live for an assessment "
    "recorded at go-live (ehc.assessment_step_recorded) is a new plan, judged against the "
    f"request date that record gives. {TIMED}",
    "SEND Regulations 2014 reg. 13(2)-(3); comparable with the SEN2 measure 'new EHC plans "
    "issued within 20 weeks, excluding exception cases'.",
    "plans issued in the calendar month",
)


def twenty_week_counts(plans: Iterable[PlanFact], months: Sequence[Month]) -> Tally:
    tally = new_tally()
    for p in plans:
        month = month_of(p.issued_on, months)
        if month is None or (p.migrated and p.requested_on is None):
            continue  # in force at go-live, its request unknown: not a new plan issued
        key = (month, "")
        tally[key][p.la_code]["issued"] += 1
        if p.exception is not None:
            tally[key][p.la_code]["exceptions"] += 1
        elif p.requested_on is None:
            tally[key][p.la_code]["no_request_recorded"] += 1
        else:
            count_timed(tally, key, p.la_code, p.within_twenty_weeks)
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return twenty_week_counts(plans_issued(s, months), months)


class TimelinessFigure(AreaFigure):
    issued: Count = Field(description="New EHC plans issued in the month.")
    exceptions: Count = Field(description="Of which a reg. 13(3) exception applied (not counted).")
    no_request_recorded: Count = Field(description="Of which the request is not in the dataset.")
    counted: Count = Field(description="issued - exceptions - no_request_recorded.")
    within_twenty_weeks: Count
    percent_within: Percent


class TwentyWeekTimeliness(Figures):
    figures: list[TimelinessFigure]


TIMED_FIGURE: Timed[TwentyWeekTimeliness] = Timed(
    DEFINITION,
    counts,
    TimelinessFigure,
    TwentyWeekTimeliness,
    {
        **same("issued", "exceptions", "no_request_recorded", "counted"),
        "within": "within_twenty_weeks",
    },
    timed_relations("issued", "exceptions", "no_request_recorded"),
)


twenty_week_timeliness = TIMED_FIGURE.publish
"""Indicator 2: new plans issued within 20 weeks, exceptions apart, by month of issue."""


INDICATOR = TIMED_FIGURE.monthly(
    "Indicator 2: new EHC plans issued within 20 weeks",
    Measure((("percent_within", "Within 20 weeks"),), "%"),
)
