"""Each indicator's exact counts from one snapshot: fetch the period's facts, count them.

These are the unsuppressed counts; only `queries.py` publishes them (with suppression). The
golden tests and the audit tools read them to check the counting rules exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from projections.dataset import counting, snapshot
from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot


def active_plans(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    plans, flags = snapshot.plans_in_force(s, months), snapshot.flags_in_force(s, months)
    return counting.active_plan_counts(counting.plan_sides(plans, flags, months))


def twenty_week(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    return counting.twenty_week_counts(snapshot.plans_issued(s, months), months)


def decisions(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    return counting.decision_counts(snapshot.decisions_made(s, months), months)


def advice(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    return counting.advice_counts(snapshot.advice_returned(s, months), months)


def reviews(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    return counting.review_counts(snapshot.reviews_held(s, months), months)


def amendments(s: Snapshot, months: Sequence[Month]) -> counting.Tally:
    return counting.amendment_counts(snapshot.amendments_issued(s, months), months)


def waits(s: Snapshot, months: Sequence[Month]) -> tuple[counting.Tally, counting.Values]:
    return counting.wait_counts(snapshot.referrals_open_or_started(s, months), months)


def alternative_provision(
    s: Snapshot, months: Sequence[Month]
) -> tuple[counting.Tally, counting.Values]:
    placements = snapshot.placements_in_period(s, months)
    return counting.ap_counts(placements, snapshot.timetables_in_force(s, months), months)


TALLIES: dict[str, Callable[[Snapshot, Sequence[Month]], Any]] = {
    "active-plans": active_plans,
    "twenty-week-timeliness": twenty_week,
    "decision-timeliness": decisions,
    "advice-timeliness": advice,
    "annual-review-timeliness": reviews,
    "amendment-timeliness": amendments,
    "health-waits": waits,
    "alternative-provision": alternative_provision,
}
"""Indicator id -> its exact counts (health waits and AP also return their values)."""


def exact_counts(
    read_model: Any, indicator: str, month: Month, la: str | None, group: str = ""
) -> dict[str, int]:
    """One LA's exact non-zero counts for one month (None: LA not known), unsuppressed: for the
    golden tests and audits that check the counting rules, never for publication."""
    with read_model.snapshot() as snap:
        tally = TALLIES[indicator](snap, [month])
    if isinstance(tally, tuple):
        tally = tally[0]
    return {k: v for k, v in tally.get((str(month), group), {}).get(la, {}).items() if v}
