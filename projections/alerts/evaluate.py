"""Every alert due as of a day, read from the tracker and dataset read models.

Reads one snapshot of each store (what the projectors have committed) and hands the facts to
the pure rules (`rules.py`); the tracker's milestones come from its public query
(`projections.tracker.queries.statuses`), so alerts and the tracker API never disagree.
"""

from __future__ import annotations

from datetime import date

from projections.alerts.rules import (
    Raised,
    discrepancies,
    discrepancy_alerts,
    milestone_alerts,
    new_plan_alerts,
)
from projections.dataset.facts import HealthFlagFact, PlanFact, ReferralFact
from projections.dataset.publishing import DatasetReadModel
from projections.tracker.queries import TrackerReadModel, statuses


def _latest_referrer(referrals: list[ReferralFact]) -> dict[str, str]:
    """Person key -> the health organisation whose referral for them is the latest."""
    latest: dict[str, tuple[str, str]] = {}
    for r in referrals:
        when = r.referred_on.isoformat() if r.referred_on else ""
        if r.person_key not in latest or when >= latest[r.person_key][0]:
            latest[r.person_key] = (when, r.org)
    return {person: org for person, (_, org) in latest.items()}


def alerts_due(tracker: TrackerReadModel, dataset: DatasetReadModel, as_of: date,
               default_health: str) -> list[Raised]:
    """Every alert the rules raise on `as_of`, ordered by person, kind and what it is about.

    `default_health`: who is told of an LA-only discrepancy for a person no health
    organisation has referred (the partnership's ICB)."""
    _, people = statuses(tracker, as_of)
    with dataset.snapshot() as snap:
        plans: list[PlanFact] = snap.rows("ehc_plans")
        flags: list[HealthFlagFact] = snap.rows("health_plan_flags")
        referrals: list[ReferralFact] = snap.rows("referrals")
    raised = [
        *milestone_alerts(people, as_of),
        *discrepancy_alerts(discrepancies(plans, flags, as_of), _latest_referrer(referrals),
                            default_health, as_of),
        *new_plan_alerts(plans, referrals, as_of),
    ]
    return sorted(raised, key=lambda r: (r.person_key, r.payload.kind, r.payload.about,
                                         r.payload.severity))
