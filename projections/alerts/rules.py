"""Who must act next, as of a day: the alert rules. Pure: read-model facts and a date in.

Three rules, each naming the person, the milestone or fact, the due date and the owner:

- **milestone**: a tracker milestone turns amber (due within 90 days) or red (past due) and is
  not done, by the tracker's own rules (`projections.tracker.status`); the owner is the
  milestone's owner there. A milestone whose owner no event names (`unknown`) alerts nobody.
- **discrepancy**: a person counted as having an active plan from an LA by one side only (the
  dataset's indicator 1 discrepancy, `projections.dataset.counting`) for longer than
  `DISCREPANCY_GRACE_DAYS`. It goes to the side that does not count them, to check its own
  records: the LA counts, health does not (`la_only`) -> the health organisation (the one
  that last flagged a plan for the person, else the partnership's ICB); health counts, the LA
  does not (`health_only`) -> that LA. Amber once the grace period has passed, red after
  `DISCREPANCY_RED_DAYS`.
- **new_plan**: an LA issued an EHC plan within the last `NEW_PLAN_WINDOW_DAYS` to a person a
  health organisation has referrals for, and health has not flagged a plan from that LA for
  them: each such organisation is told, amber, due by the end of the grace period (when its
  "has an EHC plan" flag should be set). Past the window, still unflagged, it stands
  (`new_plan_standing`: not raised again, not withdrawn) while the discrepancy rule takes over.

Every alert's id is derived from what it says (`contracts.alerts.alert_id_of`): the same facts
on another day give the same alert (and the process sends it once); a new due date or a
milestone going from amber to red is a new alert. An owner that erased a person (`Erasures`)
is alerted nothing about them; what it held open is withdrawn (`withdrawals.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.alerts import AlertPayload, alert_id_of
from projections.dataset.counting import active_on
from projections.dataset.facts import HealthFlagFact, PlanFact, ReferralFact
from projections.tracker.rules import UNKNOWN_OWNER
from projections.tracker.status import PersonStatus

DISCREPANCY_GRACE_DAYS = 28
"""Four weeks: an LA's monthly return and health's monthly flag update both pass in that time,
so a difference older than that is not one side being a cycle behind."""
DISCREPANCY_RED_DAYS = 84
NEW_PLAN_WINDOW_DAYS = DISCREPANCY_GRACE_DAYS
"""A plan is "new" while health still has time to flag it."""


@dataclass(frozen=True)
class Raised:
    """One alert due to be sent: about whom, and what it says."""

    person_key: str
    payload: AlertPayload


Condition = tuple[str, str, str, str]
"""(kind, owner, person key, about): what an alert is about, whatever its severity or date."""


@dataclass(frozen=True)
class Erasures:
    """Who registered and who erased each person (from their `person.registered` and
    `person.erased` events)."""

    registered_by: dict[str, frozenset[str]]
    erased_by: dict[str, frozenset[str]]

    def covers(self, owner: str, person_key: str) -> bool:
        """The owner erased the person, or every organisation that registered them did."""
        erased = self.erased_by.get(person_key, frozenset())
        if owner in erased:
            return True
        return bool(erased) and self.registered_by.get(person_key, frozenset()) <= erased


def _flagged(flags: Iterable[HealthFlagFact], as_of: date) -> set[tuple[str, str]]:
    """(person, LA) pairs health counts as having a plan on `as_of`."""
    return {(f.person_key, f.la_code) for f in flags if active_on(as_of, f.set_on, f.cleared_on)}


def _raised(person_key: str, kind: str, owner: str, about: str, due_on: date | None,
            severity: str, reason: str, as_of: date) -> Raised:
    return Raised(person_key, AlertPayload(
        alert_id=alert_id_of(kind, owner, person_key, about, due_on, severity), kind=kind,
        owner_org=owner, about=about, due_on=due_on, severity=severity, reason=reason,
        as_of=as_of,
    ))


def milestone_alerts(people: Iterable[PersonStatus], as_of: date) -> list[Raised]:
    """An alert per amber or red milestone of each tracked person, to its owner."""
    found = []
    for person in people:
        for status in person.milestones:
            if status.rag == "green" or status.owner == UNKNOWN_OWNER:
                continue
            when = "was due" if status.rag == "red" else "is due"
            reason = (f"{status.milestone.title} {when} on {status.due_on.isoformat()} and is "
                      f"not done (owner {status.owner}; rule: {status.milestone.due_rule})")
            found.append(_raised(person.person_key, "milestone", status.owner,
                                 status.milestone.id, status.due_on, status.rag, reason, as_of))
    return found


@dataclass(frozen=True)
class Discrepancy:
    """A person counted by one side only, for one LA, since a day."""

    person_key: str
    la_code: str
    side: str
    """`la_only` or `health_only`."""
    since: date


def _last_end(ends: Iterable[date | None], as_of: date) -> date | None:
    return max((d for d in ends if d is not None and d <= as_of), default=None)


def discrepancies(plans: Iterable[PlanFact], flags: Iterable[HealthFlagFact],
                  as_of: date) -> list[Discrepancy]:
    """Who is counted by one side only on `as_of` (the dataset's rule), and since when: the
    later of the day the counting side started counting them and the day the other side
    last stopped."""
    plans_by: dict[tuple[str, str], list[PlanFact]] = defaultdict(list)
    flags_by: dict[tuple[str, str], list[HealthFlagFact]] = defaultdict(list)
    for p in plans:
        plans_by[(p.person_key, p.la_code)].append(p)
    for f in flags:
        flags_by[(f.person_key, f.la_code)].append(f)
    found = []
    for key in sorted(plans_by.keys() | flags_by.keys()):
        la_plans = [p for p in plans_by[key] if active_on(as_of, p.issued_on, p.ceased_on)]
        health = [f for f in flags_by[key] if active_on(as_of, f.set_on, f.cleared_on)]
        if la_plans and not health:
            start = max(p.issued_on for p in la_plans)
            ended = _last_end((f.cleared_on for f in flags_by[key]), as_of)
            found.append(Discrepancy(*key, "la_only", max(start, ended or start)))
        elif health and not la_plans:
            start = max(f.set_on for f in health)
            ended = _last_end((p.ceased_on for p in plans_by[key]), as_of)
            found.append(Discrepancy(*key, "health_only", max(start, ended or start)))
    return found


def discrepancy_alerts(found: Iterable[Discrepancy], health_owner: dict[str, str],
                       default_health: str, as_of: date) -> list[Raised]:
    """The discrepancies older than the grace period, to the side that does not count them.

    `health_owner`: person key -> the health organisation that last flagged a plan for them."""
    alerts = []
    for d in found:
        age = (as_of - d.since).days
        if age <= DISCREPANCY_GRACE_DAYS:
            continue
        severity = "red" if age > DISCREPANCY_RED_DAYS else "amber"
        due = d.since + timedelta(days=DISCREPANCY_GRACE_DAYS)
        if d.side == "la_only":
            owner = health_owner.get(d.person_key, default_health)
            reason = (f"LA {d.la_code} has counted an active EHC plan since "
                      f"{d.since.isoformat()}; health has no plan flag for it: check the "
                      f"health record (grace {DISCREPANCY_GRACE_DAYS} days)")
        else:
            owner = d.la_code
            reason = (f"health has flagged a plan from LA {d.la_code} since "
                      f"{d.since.isoformat()}; the LA maintains none: check the LA's record or "
                      f"tell health it ceased (grace {DISCREPANCY_GRACE_DAYS} days)")
        alerts.append(_raised(d.person_key, "discrepancy", owner, f"{d.side}:{d.la_code}",
                              due, severity, reason, as_of))
    return alerts


def _referring(referrals: Iterable[ReferralFact], as_of: date) -> dict[str, set[str]]:
    """Person key -> the organisations with referrals for them made on or before `as_of`."""
    referring: dict[str, set[str]] = defaultdict(set)
    for r in referrals:
        if r.referred_on is not None and r.referred_on <= as_of:
            referring[r.person_key].add(r.org)
    return referring


def new_plan_alerts(plans: Iterable[PlanFact], flags: Iterable[HealthFlagFact],
                    referrals: Sequence[ReferralFact], as_of: date) -> list[Raised]:
    """A plan issued in the last `NEW_PLAN_WINDOW_DAYS` and not flagged by health, to each
    organisation with referrals for the person (made on or before `as_of`)."""
    referring, flagged = _referring(referrals, as_of), _flagged(flags, as_of)
    window = as_of - timedelta(days=NEW_PLAN_WINDOW_DAYS)
    alerts = []
    for plan in plans:
        if not window <= plan.issued_on <= as_of or (plan.person_key, plan.la_code) in flagged:
            continue
        for org in sorted(referring.get(plan.person_key, ())):
            reason = (f"LA {plan.la_code} issued EHC plan {plan.plan_id} on "
                      f"{plan.issued_on.isoformat()} (primary need {plan.primary_need}) for a "
                      f"person {org} has referrals for: set the health record's plan flag")
            due = plan.issued_on + timedelta(days=DISCREPANCY_GRACE_DAYS)
            alerts.append(_raised(plan.person_key, "new_plan", org,
                                  f"plan_issued:{plan.plan_id}", due, "amber", reason, as_of))
    return alerts


def new_plan_standing(plans: Iterable[PlanFact], flags: Iterable[HealthFlagFact],
                      referrals: Sequence[ReferralFact], as_of: date) -> set[Condition]:
    """The new-plan conditions still in force: a plan in force on `as_of` that health has not
    flagged, for each organisation with referrals for the person."""
    referring, flagged = _referring(referrals, as_of), _flagged(flags, as_of)
    return {("new_plan", org, plan.person_key, f"plan_issued:{plan.plan_id}")
            for plan in plans
            if active_on(as_of, plan.issued_on, plan.ceased_on)
            and (plan.person_key, plan.la_code) not in flagged
            for org in referring.get(plan.person_key, ())}
