"""Indicator 3: advice for EHC needs assessments returned within 6 weeks, by advice giver.

The definition shown beside the figures, the counting from advice facts and the published
figure (one row per advice giver)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import get_args

from contracts.vocab import AdviceGiver
from projections.dataset.counting import Tally, count_timed, month_of, new_tally
from projections.dataset.definition import TIMED, Measure, define
from projections.dataset.facts import AdviceFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    Timed,
    same,
    timed_relations,
)
from projections.dataset.snapshot import advice_returned
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "advice-timeliness",
    3,
    "Advice for EHC needs assessments returned within 6 weeks, by advice giver",
    "For each local authority, month and advice giver (health, social care, educational "
    "psychology, education, other): returned = ehc.advice_returned dated in the month, matched "
    "to the LA's ehc.advice_requested by the requesting LA and the advice request id (whichever "
    "arrived first). Advice whose request is not in the dataset is shown as no request recorded "
    "and not counted. Of the rest (counted), within 6 weeks = returned no more than 42 days "
    "after the LA asked; exactly 6 weeks is within time. The advice giver is the one named by "
    f"the LA's request. {TIMED}",
    "SEND Regulations 2014 reg. 8(1) (advice within 6 weeks of the request).",
    "advice returned in the calendar month",
)


ADVICE_GIVERS: tuple[str, ...] = get_args(AdviceGiver)


def advice_counts(advice: Iterable[AdviceFact], months: Sequence[Month]) -> Tally:
    tally = new_tally()
    for a in advice:
        month = month_of(a.returned_on, months)
        if month is None:
            continue
        key = (month, a.advice_giver)
        tally[key][a.la_code]["returned"] += 1
        if a.requested_on is None:
            tally[key][a.la_code]["no_request_recorded"] += 1
        count_timed(tally, key, a.la_code, a.within_six_weeks)
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return advice_counts(advice_returned(s, months), months)


class AdviceFigure(AreaFigure):
    advice_giver: str
    returned: Count
    no_request_recorded: Count
    counted: Count
    within_six_weeks: Count
    percent_within: Percent


class AdviceTimeliness(Figures):
    figures: list[AdviceFigure]


TIMED_FIGURE: Timed[AdviceTimeliness] = Timed(
    DEFINITION,
    counts,
    AdviceFigure,
    AdviceTimeliness,
    {**same("returned", "no_request_recorded", "counted"), "within": "within_six_weeks"},
    timed_relations("returned", "no_request_recorded"),
    groups=ADVICE_GIVERS,
    group_field="advice_giver",
)


advice_timeliness = TIMED_FIGURE.publish
"""Indicator 3: advice returned within 6 weeks of the LA's request, by advice giver."""


INDICATOR = TIMED_FIGURE.monthly(
    "Indicator 3: advice returned within 6 weeks, by advice giver",
    Measure((("percent_within", "Within 6 weeks"),), "%", "advice_giver"),
)
