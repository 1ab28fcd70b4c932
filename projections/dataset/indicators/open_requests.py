"""Backlog: requests for an EHC needs assessment still open, by step and weeks since the
request.

The definition shown beside the figures, the counting from request facts and the published
figure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from projections.dataset.backlog import Backlog, BacklogFigures, Days, each_day, open_between
from projections.dataset.counting import Tally, active_on, banded, new_tally, weeks_between
from projections.dataset.definition import Measure, define
from projections.dataset.facts import RequestFact
from projections.dataset.figures import AreaFigure, Count
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "open-requests",
    2,
    "Backlog: requests for assessment still open",
    "For each local authority, counted on the day (by month: the month's last day): open = "
    "requests for an EHC needs assessment (ehc.assessment_requested) received on or before the "
    "day that had not closed by it. A request closes on the day the LA refused to assess, "
    "issued the plan for the case or decided not to issue one. Step: awaiting decision (no "
    "decision whether to assess notified by the day) or assessing (decided to assess). Age = "
    "weeks from the request to the day: 0-6 (under 6 weeks, the decision's limit), 6-20 (6 up "
    "to under 20, the final plan's limit) and 20+ (20 weeks or more: past the statutory "
    "limit). An assessment recorded at go-live at its step (ehc.assessment_step_recorded) is "
    "a request received on its requested_on, decided on its decided_on and closed as its step "
    "says: it counts like the same request observed live.",
    "SEND Regulations 2014 reg. 5(1) and 13(2); LLR's and Nottinghamshire's assessment backlog "
    "counts.",
    "open on the day",
)

STEPS: tuple[str, ...] = ("awaiting_decision", "assessing")
BANDS = (
    (0, 6, "open_0_6_weeks"),
    (6, 20, "open_6_20_weeks"),
    (20, None, "open_20_plus_weeks"),
)


def open_request_counts(requests: Iterable[RequestFact], days: Days) -> Tally:
    tally = new_tally()
    for label, day, r in each_day(days, requests):
        if active_on(day, r.requested_on, r.closed_on):
            decided = r.decided_on is not None and r.decided_on <= day
            step = "assessing" if decided else "awaiting_decision"
            weeks = weeks_between(r.requested_on, day)
            tally[(label, step)][r.la_code].update(["open", banded(weeks, BANDS)])
    return tally


def requests_open(snapshot: Snapshot, first: date, last: date) -> list[RequestFact]:
    return open_between(snapshot, "assessment_requests", "requested_on", "closed_on", first, last)


class OpenRequestsFigure(AreaFigure):
    step: str
    open: Count
    open_0_6_weeks: Count
    open_6_20_weeks: Count
    open_20_plus_weeks: Count


class OpenRequests(BacklogFigures):
    figures: list[OpenRequestsFigure]


BACKLOG: Backlog[OpenRequests] = Backlog(
    DEFINITION, requests_open, open_request_counts, OpenRequestsFigure, OpenRequests,
    ("open", *(name for _, _, name in BANDS)), STEPS, "step",
)


open_requests = BACKLOG.publish
"""Backlog: requests for an EHC needs assessment still open, by step and weeks since the"""


INDICATOR = BACKLOG.monthly(
    "Backlog: requests for assessment still open, by step and age",
    Measure((("open", "Open"),), "", "step", "Requests open (count)"),
)
