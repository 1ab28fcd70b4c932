"""Which open alerts to withdraw as of a day, and why. Pure: the open alerts, what the rules
raise now and what still stands in; the withdrawals out.

An alert the owner holds open is withdrawn once the rules no longer raise it:
- **superseded** when the rules raise another alert about the same thing (same person, kind
  and `about`): an amber milestone turned red, a new due date, a new owner. The new alert is
  sent first, and the withdrawal names it.
- **erased** when the owner has erased the person (or every organisation that registered them
  has): nobody is alerted about a person they erased.
- otherwise the condition cleared: **done** (the milestone is done or no longer due; the new
  plan was flagged, or ceased) or **reconciled** (both sides count the person alike, or
  neither does).
Unless it still stands (`standing`): a new plan past its window that health has still not
flagged is no longer raised (the discrepancy rule takes over) but is not done either.

Alerts recorded before withdrawals existed have no `about`: they are withdrawn only when
nothing is raised for the same owner, kind and person, since which of those replaced them
cannot be told.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from contracts.alerts import WithdrawalPayload, WithdrawalReason, withdrawal_id_of
from projections.alerts.rules import Condition, Erasures, Raised

CLEARED: dict[str, WithdrawalReason] = {
    "milestone": "done", "discrepancy": "reconciled", "new_plan": "done"}
_WORDS = {
    "milestone": "the milestone is done or no longer due",
    "discrepancy": "the LA and health now count the person alike",
    "new_plan": "the health record's plan flag is set (or the plan ceased)",
}


@dataclass(frozen=True)
class OpenAlert:
    """An alert sent and not withdrawn, as the alert process recorded it."""

    alert_id: UUID
    owner_org: str
    kind: str
    person_key: str
    about: str | None
    position: int


@dataclass(frozen=True)
class Withdrawal:
    """One withdrawal due: of which open alert, saying what."""

    alert: OpenAlert
    payload: WithdrawalPayload


def _replacement(alert: OpenAlert, by_thing: Mapping[tuple, list[Raised]]) -> Raised | None:
    """A raised alert about the same thing, the same owner's first."""
    same = sorted(by_thing.get((alert.person_key, alert.kind, alert.about), ()),
                  key=lambda r: (r.payload.owner_org != alert.owner_org,
                                 r.payload.severity != "red"))
    return same[0] if same else None


def _withdrawal(alert: OpenAlert, reason: WithdrawalReason, explanation: str, as_of: date,
                superseded_by: UUID | None = None) -> Withdrawal:
    return Withdrawal(alert, WithdrawalPayload(
        withdrawal_id=withdrawal_id_of(alert.alert_id), alert_id=alert.alert_id,
        kind=alert.kind, owner_org=alert.owner_org, about=alert.about, reason=reason,
        superseded_by=superseded_by, explanation=explanation, as_of=as_of,
    ))


def withdrawals(open_alerts: Iterable[OpenAlert], due: Collection[Raised],
                standing: Collection[Condition], erasures: Erasures,
                as_of: date) -> list[Withdrawal]:
    """The withdrawal of every open alert the rules no longer raise, in the record's order."""
    raised = {r.payload.alert_id for r in due}
    legacy = {(r.payload.owner_org, r.payload.kind, r.person_key) for r in due}
    by_thing: dict[tuple, list[Raised]] = defaultdict(list)
    for r in due:
        by_thing[(r.person_key, r.payload.kind, r.payload.about)].append(r)
    found = []
    for alert in open_alerts:
        if alert.alert_id in raised:
            continue
        if erasures.covers(alert.owner_org, alert.person_key):
            found.append(_withdrawal(alert, "erased", f"{alert.owner_org} erased the person: "
                                     "nothing about them is alerted any more", as_of))
            continue
        if alert.about is None:
            if (alert.owner_org, alert.kind, alert.person_key) not in legacy:
                found.append(_withdrawal(alert, CLEARED[alert.kind],
                                         f"No longer raised as of {as_of.isoformat()}", as_of))
            continue
        replacement = _replacement(alert, by_thing)
        if replacement is not None:
            new = replacement.payload
            due_on = new.due_on.isoformat() if new.due_on else "no date"
            found.append(_withdrawal(
                alert, "superseded", f"Replaced by a newer alert about {alert.about} "
                f"({new.severity}, due {due_on}, owner {new.owner_org})", as_of, new.alert_id))
        elif (alert.kind, alert.owner_org, alert.person_key, alert.about) not in standing:
            found.append(_withdrawal(alert, CLEARED[alert.kind],
                                     f"No longer needed as of {as_of.isoformat()}: "
                                     f"{_WORDS[alert.kind]}", as_of))
    return found

