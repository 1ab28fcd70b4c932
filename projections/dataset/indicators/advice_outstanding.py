"""Backlog: advice asked for and not yet returned, by advice giver and weeks since it was asked.

The definition shown beside the figures, the counting from advice facts and the published
figure."""

from __future__ import annotations

from datetime import date

from projections.dataset.backlog import Backlog, BacklogFigures, Days, each_day, open_between
from projections.dataset.counting import Tally, active_on, banded, new_tally, weeks_between
from projections.dataset.definition import Measure, define
from projections.dataset.facts import AdviceFact, RequestFact
from projections.dataset.figures import AreaFigure, Count
from projections.dataset.indicators.advice_timeliness import ADVICE_GIVERS
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "advice-outstanding",
    3,
    "Backlog: advice requested and not returned",
    "For each local authority and advice giver (health, social care, educational psychology, "
    "education, other), counted on the day (by month: the month's last day): outstanding = "
    "requests for advice (ehc.advice_requested) dated on or before the day whose advice "
    "(ehc.advice_returned for the same request) had not been returned by it, for assessments "
    "still open that day (see open-requests: once the plan is issued, or the LA decided not to "
    "issue one or refused to assess, advice still missing no longer holds anything up and is "
    "not counted; advice for a case whose request is not in the dataset is). Age = weeks "
    "from the request to the day: 0-6 (under 6 weeks: not yet due), 6-12 (6 up to under 12) "
    "and 12+ (12 weeks or more); 6 weeks or more is past the statutory limit.",
    "SEND Regulations 2014 reg. 8(1) (advice within 6 weeks); Nottinghamshire's EPS backlog "
    "(assessments unallocated to educational psychology).",
    "outstanding on the day",
)

BANDS = (
    (0, 6, "outstanding_0_6_weeks"),
    (6, 12, "outstanding_6_12_weeks"),
    (12, None, "outstanding_12_plus_weeks"),
)


CaseKey = tuple[str, str, str]
"""(person key, LA code, case id)."""


def outstanding_counts(facts: tuple[list[AdviceFact], list[RequestFact]], days: Days) -> Tally:
    advice, requests = facts
    closed: dict[CaseKey, date | None] = {
        (r.person_key, r.la_code, r.case_id): r.closed_on for r in requests}
    tally = new_tally()
    for label, day, a in each_day(days, advice):
        case_closed = closed.get((a.person_key, a.la_code, a.case_id))
        if case_closed is not None and case_closed <= day:
            continue
        if active_on(day, a.requested_on, a.returned_on):
            band = banded(weeks_between(a.requested_on, day), BANDS)
            tally[(label, a.advice_giver)][a.la_code].update(["outstanding", band])
    return tally


def advice_open(snapshot: Snapshot, first: date, last: date
                ) -> tuple[list[AdviceFact], list[RequestFact]]:
    return (open_between(snapshot, "advice_requests", "requested_on", "returned_on", first, last),
            snapshot.rows("assessment_requests", "requested_on <= ?", (last.isoformat(),)))


class AdviceOutstandingFigure(AreaFigure):
    advice_giver: str
    outstanding: Count
    outstanding_0_6_weeks: Count
    outstanding_6_12_weeks: Count
    outstanding_12_plus_weeks: Count


class AdviceOutstanding(BacklogFigures):
    figures: list[AdviceOutstandingFigure]


BACKLOG: Backlog[AdviceOutstanding] = Backlog(
    DEFINITION, advice_open, outstanding_counts, AdviceOutstandingFigure, AdviceOutstanding,
    ("outstanding", *(name for _, _, name in BANDS)), ADVICE_GIVERS, "advice_giver",
)


advice_outstanding = BACKLOG.publish
"""Backlog: advice asked for and not yet returned, by advice giver and weeks since it was asked."""


INDICATOR = BACKLOG.monthly(
    "Backlog: advice requested and not returned, by advice giver and age",
    Measure((("outstanding", "Outstanding"),), "", "advice_giver",
            "Advice requests outstanding (count)"),
)
