"""The shared dataset's indicators, one module each: its written definition (the text the API
and the dashboard show beside every figure), how it counts from the facts, and its published
figure (counts of 1-4 as "<5", others hidden as "c" where they could be derived,
`projections.suppression`).

The definition text is the contract with the reader: change the counting, change the text.
This registry is where the API, the audit counts (`tallies.py`) and the dashboard's tiles take
them from; the README lists each with a link to its module.
"""

from __future__ import annotations

from projections.dataset.backlog import Backlog
from projections.dataset.definition import IndicatorDefinition, Measure, Monthly
from projections.dataset.indicators import (
    active_plans,
    advice_outstanding,
    advice_timeliness,
    alternative_provision,
    amendment_timeliness,
    amendments_outstanding,
    annual_health_checks,
    annual_review_timeliness,
    complaints,
    decision_timeliness,
    dynamic_support_register,
    health_waits,
    ld_register_match,
    mediation_and_appeals,
    open_requests,
    referrals_waiting,
    reviews_overdue,
    transition_tracker,
    twenty_week_timeliness,
)

MONTHLY: tuple[Monthly, ...] = (
    active_plans.INDICATOR,
    twenty_week_timeliness.INDICATOR,
    decision_timeliness.INDICATOR,
    advice_timeliness.INDICATOR,
    annual_review_timeliness.INDICATOR,
    amendment_timeliness.INDICATOR,
    health_waits.INDICATOR,
    alternative_provision.INDICATOR,
    open_requests.INDICATOR,
    advice_outstanding.INDICATOR,
    reviews_overdue.INDICATOR,
    amendments_outstanding.INDICATOR,
    annual_health_checks.INDICATOR,
    dynamic_support_register.INDICATOR,
    ld_register_match.INDICATOR,
    mediation_and_appeals.INDICATOR,
    complaints.INDICATOR,
)
"""Indicators 1-6, 8-12 and the backlogs, served by month per LA and for the partnership."""


BACKLOGS: tuple[Backlog, ...] = (
    open_requests.BACKLOG,
    advice_outstanding.BACKLOG,
    reviews_overdue.BACKLOG,
    amendments_outstanding.BACKLOG,
    referrals_waiting.BACKLOG,
)
"""The overdue work and what is still open, served on any day (`as_of`) per LA and for the
partnership; all but the referrals (indicator 5's waiting by month) also by month."""


TRANSITION_TRACKER = transition_tracker.DEFINITION
"""Indicator 7, served by the tracker as of a day (`projections.tracker.queries`)."""


INDICATORS: tuple[IndicatorDefinition, ...] = tuple(sorted(
    (*(spec.indicator for spec in MONTHLY), referrals_waiting.DEFINITION,
     annual_health_checks.ON_A_DAY, dynamic_support_register.ON_A_DAY, TRANSITION_TRACKER),
    key=lambda i: i.number,
))
"""Every indicator's definition, in the order the API lists them: by number."""


MEASURES: dict[str, Measure] = {spec.indicator.id: spec.measure for spec in MONTHLY}
"""Indicator id -> what the dashboard's tile charts."""

__all__ = ["BACKLOGS", "INDICATORS", "MEASURES", "MONTHLY", "TRANSITION_TRACKER", "Backlog",
           "IndicatorDefinition", "Measure", "Monthly"]
