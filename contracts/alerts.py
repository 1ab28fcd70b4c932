"""`alert.raised` / `alert.withdrawn`: derived events telling one organisation that the next
step is its own, and that it no longer is.

Alerts are not history published by a partner: the alert process (`projections.alerts`) derives
them from the read models and publishes them on their own stream, SEND_ALERTS, under

    send.alert.<owner_org>.<kind>.<person_key>

so a NATS permission `send.alert.QK1.>` (and a webhook filter) gives an organisation its own
alerts and nobody else's. The body is a contract-style JSON event (the envelope's header fields
and a payload), validated by `AlertRaised` and described by `alert_json_schema()`.

`alert_id` (also the `Nats-Msg-Id` and the CloudEvent id) is derived from what the alert says
(`alert_id_of`), so evaluating the same facts again gives the same id and the alert is never
sent twice: the server drops a repeat inside its duplicate window, the alert process's own
record of what it sent drops it after.

`alert.withdrawn` tells the owner that an alert it holds open is no longer needed: the
milestone is done, the discrepancy reconciled, the plan flagged (`done` / `reconciled`), a newer
alert about the same thing replaced it (`superseded`, naming that alert: amber turned red, a new
due date), or the owner erased the person (`erased`). It goes on

    send.alert.<owner_org>.withdrawn.<person_key>

so the owner's filter `send.alert.<owner_org>.>` carries it, and the stream's per-subject counts
tell raised from withdrawn. Its id (`withdrawal_id_of`) depends on the withdrawn alert alone:
an alert is withdrawn once, and a withdrawal published again after a crash is the same message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import ORG_CODE_PATTERN, PERSON_KEY_PATTERN
from contracts.feeds import ALERT_ROOT

ALERT_TYPE = "alert.raised"
ALERT_SCHEMA_VERSION = 1
ALERTS_SOURCE = "SENDX"
"""`source_org` of every alert: the partnership's own alert process, not a partner."""
ALERT_NAMESPACE = UUID("5d1f0b8e-3c51-4f0e-9a57-2f6f1c7c4a10")

AlertKind = Literal["milestone", "discrepancy", "new_plan"]
Severity = Literal["amber", "red"]
ALERT_KINDS: tuple[str, ...] = ("milestone", "discrepancy", "new_plan")

WITHDRAWAL_TYPE = "alert.withdrawn"
WITHDRAWN_TOKEN = "withdrawn"
"""The fourth subject token of a withdrawal (where an alert has its kind)."""
WithdrawalReason = Literal["done", "reconciled", "superseded", "erased"]


class AlertPayload(BaseModel):
    """What the owner is told: about whom, which milestone or fact, by when, and why."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"examples": [{
            "alert_id": "0b6f3c1e-2f55-5d3c-9a9a-7b1f0c2d3e4f", "kind": "milestone",
            "owner_org": "856", "about": "named_worker", "due_on": "2026-09-30",
            "severity": "red", "reason": "Named worker assigned was due on 2026-09-30 and is "
            "not done (owner 856)", "as_of": "2026-11-02",
        }]},
    )

    alert_id: UUID = Field(description="Deterministic id of this alert (also its Nats-Msg-Id).")
    kind: AlertKind = Field(
        description="milestone: a tracker milestone turned amber or red; discrepancy: counted "
        "by one side only past the grace period; new_plan: a new EHC plan for a person the "
        "organisation has referrals for."
    )
    owner_org: str = Field(pattern=ORG_CODE_PATTERN, description="Who owns the next step.")
    about: str = Field(
        min_length=1, max_length=200,
        description="The milestone id (e.g. `named_worker`) or the fact (e.g. `la_only:856`, "
        "`plan_issued:<plan id>`).",
    )
    due_on: date | None = Field(description="When the next step is (or was) due.")
    severity: Severity = Field(description="amber (due soon / act now) or red (overdue).")
    reason: str = Field(min_length=1, max_length=1000, description="In plain words.")
    as_of: date = Field(description="The day the rules were evaluated for.")


class AlertRaised(BaseModel):
    """A whole alert message: the envelope's header fields and the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(description="= payload.alert_id.")
    type: Literal["alert.raised"] = ALERT_TYPE
    schema_version: Literal[1] = ALERT_SCHEMA_VERSION
    source_org: Literal["SENDX"] = ALERTS_SOURCE
    person_key: str = Field(pattern=PERSON_KEY_PATTERN)
    occurred_at: datetime = Field(description="Midnight UTC of `as_of`.")
    recorded_at: datetime = Field(description="When the alert process first raised it.")
    correlation_id: UUID
    causation_id: UUID | None = None
    source_position: int = Field(ge=1, description="Position in the alert process's record.")
    payload: AlertPayload

    @property
    def subject(self) -> str:
        return alert_subject(self.payload.owner_org, self.payload.kind, self.person_key)


class WithdrawalPayload(BaseModel):
    """Which alert the owner can close, and why."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"examples": [{
            "withdrawal_id": "6a0c9e52-77b1-5f0e-8d0b-0f3c2a1e9b7d",
            "alert_id": "0b6f3c1e-2f55-5d3c-9a9a-7b1f0c2d3e4f", "kind": "milestone",
            "owner_org": "856", "about": "named_worker", "reason": "superseded",
            "superseded_by": "1c2d3e4f-0b6f-5c1e-9a9a-7b1f0c2d3e4f",
            "explanation": "Replaced by a newer alert about the same milestone (red, due "
            "2026-09-30)", "as_of": "2026-10-01",
        }]},
    )

    withdrawal_id: UUID = Field(description="Deterministic id (also its Nats-Msg-Id).")
    alert_id: UUID = Field(description="The `alert.raised` this withdraws.")
    kind: AlertKind = Field(description="The withdrawn alert's kind.")
    owner_org: str = Field(pattern=ORG_CODE_PATTERN, description="Who held the alert.")
    about: str | None = Field(
        max_length=200, description="The withdrawn alert's `about` (None for an alert recorded "
        "before withdrawals existed).")
    reason: WithdrawalReason = Field(
        description="done: the milestone is done or no longer due, or the plan was flagged; "
        "reconciled: both sides now agree; superseded: `superseded_by` replaces it; erased: "
        "the owner erased the person.")
    superseded_by: UUID | None = Field(
        default=None, description="The alert that replaces it (reason `superseded` only).")
    explanation: str = Field(min_length=1, max_length=1000, description="In plain words.")
    as_of: date = Field(description="The day the rules no longer raised it.")


class AlertWithdrawn(BaseModel):
    """A whole withdrawal message: the envelope's header fields and the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(description="= payload.withdrawal_id.")
    type: Literal["alert.withdrawn"] = WITHDRAWAL_TYPE
    schema_version: Literal[1] = 1
    source_org: Literal["SENDX"] = ALERTS_SOURCE
    person_key: str = Field(pattern=PERSON_KEY_PATTERN)
    occurred_at: datetime = Field(description="Midnight UTC of `as_of`.")
    recorded_at: datetime = Field(description="When the alert process withdrew it.")
    correlation_id: UUID = Field(description="= the withdrawn alert's id.")
    causation_id: UUID | None = Field(
        default=None, description="The superseding alert's id, when there is one.")
    source_position: int = Field(
        ge=1, description="The withdrawn alert's position in the alert process's record.")
    payload: WithdrawalPayload

    @property
    def subject(self) -> str:
        return alert_subject(self.payload.owner_org, WITHDRAWN_TOKEN, self.person_key)


def alert_id_of(kind: str, owner_org: str, person_key: str, about: str,
                due_on: date | None, severity: str) -> UUID:
    """The same facts give the same id, whenever and however often they are evaluated."""
    due = due_on.isoformat() if due_on else "-"
    return uuid5(ALERT_NAMESPACE, "|".join((kind, owner_org, person_key, about, due, severity)))


def withdrawal_id_of(alert_id: UUID) -> UUID:
    """One withdrawal per alert, whatever the reason or the day it is found."""
    return uuid5(ALERT_NAMESPACE, f"{WITHDRAWAL_TYPE}|{alert_id}")


def alert_subject(owner_org: str, kind: str, person_key: str) -> str:
    return f"{ALERT_ROOT}.{owner_org}.{kind}.{person_key}"


def alert_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of an `alert.raised` message."""
    return _schema(AlertRaised, ALERT_TYPE)


def withdrawal_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of an `alert.withdrawn` message."""
    return _schema(AlertWithdrawn, WITHDRAWAL_TYPE)


ALERT_MESSAGES: dict[str, type[BaseModel]] = {ALERT_TYPE: AlertRaised,
                                              WITHDRAWAL_TYPE: AlertWithdrawn}
"""Every message type on SEND_ALERTS, by `type`."""


def _schema(model: type[BaseModel], message_type: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://send-exchange.example/schemas/{message_type}.v1.json",
            **model.model_json_schema()}
