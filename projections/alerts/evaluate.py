"""Every alert due as of a day, read from the tracker and dataset read models.

Reads one snapshot of each store (what the projectors have committed) and hands the facts to
the pure rules (`rules.py`); the tracker's milestones come from its public query
(`projections.tracker.queries.statuses`), so alerts and the tracker API never disagree. Who
registered and who erased each person comes from the dataset store's events of those types,
read for the people alerted now or holding open alerts only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from contracts.sealing import ERASURE_TYPE
from projections.alerts.rules import (
    Condition,
    Erasures,
    Raised,
    discrepancies,
    discrepancy_alerts,
    milestone_alerts,
    new_plan_alerts,
    new_plan_standing,
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


REGISTRATION_TYPE = "person.registered"


@dataclass(frozen=True)
class Evaluation:
    """What the rules say on a day: the alerts due, the conditions that stand without being
    raised again, and who erased whom (`withdrawals.py` decides what to withdraw from these)."""

    due: list[Raised]
    standing: set[Condition]
    erasures: Erasures


def _erasures(found: Iterable[tuple[str, str, str]]) -> Erasures:
    by_type: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for person, event_type, org in found:
        by_type[event_type][person].add(org)
    frozen = {t: {p: frozenset(o) for p, o in people.items()} for t, people in by_type.items()}
    return Erasures(frozen.get(REGISTRATION_TYPE, {}), frozen.get(ERASURE_TYPE, {}))


def evaluate(tracker: TrackerReadModel, dataset: DatasetReadModel, as_of: date,
             default_health: str, holding: Iterable[str] = ()) -> Evaluation:
    """The alerts due on `as_of` (none to an owner that erased the person), ordered by person,
    kind and what it is about; `holding`: the people with open alerts, whose erasure counts.

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
            *new_plan_alerts(plans, flags, referrals, as_of),
        ]
        erasures = _erasures(snap.typed_events(
            {r.person_key for r in raised} | set(holding), (REGISTRATION_TYPE, ERASURE_TYPE)))
    due = sorted((r for r in raised if not erasures.covers(r.payload.owner_org, r.person_key)),
                 key=lambda r: (r.person_key, r.payload.kind, r.payload.about,
                                r.payload.severity))
    return Evaluation(due, new_plan_standing(plans, flags, referrals, as_of), erasures)


def alerts_due(tracker: TrackerReadModel, dataset: DatasetReadModel, as_of: date,
               default_health: str) -> list[Raised]:
    """Every alert the rules raise on `as_of` (`evaluate(...).due`)."""
    return evaluate(tracker, dataset, as_of, default_health).due
