"""The API's side of deliveries: a partner's alerts and feed from a cursor, its webhook dead
letters, and the open and withdrawn alert counts per organisation.

Whose: a partner token reads its own organisation's (asking for another's is 403); an auditor
names the organisation with `org`; a dashboard token reads the counts only. The messages are
the same CloudEvents a webhook delivers (`projections.delivery.cloudevent`), each with its
`cursor` (`sendxsequence`): ask again with `after=<the last cursor>` for the next page, which
is how a partner recovers what a webhook could not deliver, or rebuilds from the start.

With which login: these routes read messages (SEND_ALERTS, SEND_FEEDS, SEND_DEADLETTER), which
the API's own `dashboard` login may not, so they use a login of their own, the `courier`
(`CourierLogin`, from `SENDX_COURIER_NATS_USER`; `runtime.bus.permissions`). Without one
(an open server) they share the API's connection.
Rows carry their `person_key`, so the access rule every answer passes applies to them too
(`projections.access.policy`: a partner's rows about people its own events never mention are
withheld, and counted in `X-Person-Rows-Withheld`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import nats.errors
from fastapi import FastAPI, HTTPException, Query, Request
from nats.aio.client import Client
from nats.js import JetStreamContext
from pydantic import BaseModel, Field

from projections.access.policy import PERSON_LEVEL
from projections.access.tokens import Role
from projections.alerts.counts import alert_counts
from projections.delivery.cloudevent import as_json, cloud_event
from projections.delivery.config import Endpoint
from projections.delivery.dead_letters import webhook_letters
from projections.delivery.replay import MAX_PAGE, messages_after
from projections.serving.api_contract import NEEDS_ORG, UNAVAILABLE
from runtime.bus.connection import connect_bus
from runtime.settings import Settings

log = logging.getLogger(__name__)

JetStream = Callable[[], Awaitable[JetStreamContext | None]]
After = Annotated[int, Query(ge=0, description="Cursor: only messages after this sequence.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")]
Org = Annotated[str | None, Query(max_length=12, pattern=r"^[A-Z0-9]{3,12}$",
                                  description="Whose (auditors; a partner reads its own).")]


class AlertCounts(BaseModel):
    as_at_alert_sequence: int = Field(description="SEND_ALERTS' last sequence when counted.")
    counts: dict[str, int] = Field(
        description="Alerts open (sent and not withdrawn), per owning organisation.")
    withdrawn: dict[str, int] = Field(
        description="Alerts withdrawn so far (done, reconciled, superseded or erased), per "
        "owning organisation.")


class DeliveredEvent(BaseModel):
    cursor: int = Field(description="Stream sequence: pass as `after` for the next page.")
    person_key: str | None = Field(description="Whom it is about.")
    event: dict[str, Any] = Field(description="The CloudEvent, as a webhook delivers it.")


class DeliveredEvents(BaseModel):
    org: str
    source: str
    count: int
    next_after: int = Field(description="The cursor to ask with next (the last one, or `after`).")
    events: list[DeliveredEvent]


class WebhookDeadLetter(BaseModel):
    cursor: int = Field(description="Sequence on SEND_DEADLETTER.")
    endpoint: str
    org: str
    event_id: str
    original_stream: str
    original_sequence: int = Field(description="Replay it with `after` = this minus one.")
    attempts: int
    error: str = Field(description="The last answer or failure before giving up.")


class WebhookDeadLetters(BaseModel):
    count: int
    next_after: int
    letters: list[WebhookDeadLetter]


class CourierLogin:
    """JetStream as the `courier` user, connected on first use and kept (it reconnects by
    itself); None while the bus cannot be reached."""

    def __init__(self, nats_url: str, user: str, password: str | None) -> None:
        self._url, self._user, self._password = nats_url, user, password
        self._nc: Client | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def configured(cls, settings: Settings, nats_url: str | None = None) -> CourierLogin | None:
        """The login `SENDX_COURIER_NATS_USER` names, at `nats_url` (default `NATS_URL`);
        None when it is unset (an open server: the routes use the API's own connection)."""
        if not settings.courier_nats_user:
            return None
        return cls(nats_url or settings.nats_url, settings.courier_nats_user,
                   settings.courier_nats_password)

    async def __call__(self) -> JetStreamContext | None:
        async with self._lock:
            if self._nc is None:
                try:
                    self._nc = await asyncio.wait_for(connect_bus(
                        self._url, name="sendx-api-courier", user=self._user,
                        password=self._password), timeout=3)
                except (TimeoutError, OSError, nats.errors.Error) as exc:
                    log.warning("deliveries: cannot log in as %s (%s)", self._user, exc)
                    return None
        return self._nc.jetstream() if self._nc.is_connected else None

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()


def whose(request: Request, org: str | None) -> str | None:
    """The organisation a request may read: its own for a partner; `org` for an auditor."""
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.role is Role.AUDITOR:
        return org
    own = principal.org.code if principal.org else None
    if org is not None and org != own:
        raise HTTPException(403, f"{principal} may read its own deliveries only, not {org}'s")
    return own


async def _bus(jetstream: JetStream) -> JetStreamContext:
    js = await jetstream()
    if js is None:
        raise HTTPException(503, "the bus cannot be reached: try again shortly")
    return js


def install_delivery_routes(app: FastAPI, jetstream: JetStream) -> None:
    @app.get("/api/alerts/counts", summary="Alerts open and withdrawn, per owning organisation",
             description="Counted on SEND_ALERTS; the live feed carries the same counts. 503 "
             "while the bus cannot be reached.", responses=UNAVAILABLE)
    async def counts() -> AlertCounts:
        counted = await alert_counts(await _bus(jetstream))
        return AlertCounts(as_at_alert_sequence=counted.position, counts=counted.open,
                           withdrawn=counted.withdrawn)

    @app.get(
        "/api/deliveries/{source}", openapi_extra=PERSON_LEVEL,
        summary="A partner's alerts or feed from a cursor (replay)",
        description=(
            "The CloudEvents a webhook delivers, oldest first, after the cursor `after`: "
            "`alerts` (SEND_ALERTS) or `feed` (SEND_FEEDS). A partner token reads its own "
            "organisation's; an auditor names it with `org`. 400 without one, 403 for "
            "another's, 503 while the bus cannot be reached."),
        responses={**NEEDS_ORG, **UNAVAILABLE},
    )
    async def deliveries(request: Request, source: Literal["alerts", "feed"],
                         after: After = 0, limit: Limit = 100, org: Org = None,
                         ) -> DeliveredEvents:
        chosen = whose(request, org)
        if chosen is None:
            raise HTTPException(400, "name the organisation whose deliveries to read: org=")
        stream, subject = Endpoint.stream_and_filter_for(chosen, source)
        found = await messages_after(await _bus(jetstream), stream, subject, after, limit)
        events = []
        for m in found:
            try:
                event = as_json(cloud_event(m.stream, m.sequence, m.subject, m.data, m.headers))
            except ValueError:  # not an event: the webhook dead-letters it; here it is skipped
                continue
            events.append(DeliveredEvent(cursor=m.sequence,
                                         person_key=m.subject.rsplit(".", 1)[-1], event=event))
        return DeliveredEvents(org=chosen, source=source, count=len(events),
                               next_after=found[-1].sequence if found else after, events=events)

    @app.get(
        "/api/deliveries/webhooks/deadletters", openapi_extra=PERSON_LEVEL,
        summary="What a webhook could not deliver within its retry period",
        description=(
            "A partner's webhook dead letters (an auditor's: every organisation's, or `org`'s), "
            "oldest first, after the cursor `after`; replay each from `/api/deliveries/...` "
            "with `after` = its original sequence minus one. 403 for another partner's, 503 "
            "while the bus cannot be reached."),
        responses=UNAVAILABLE,
    )
    async def dead_letters(request: Request, after: After = 0, limit: Limit = 100,
                           org: Org = None) -> WebhookDeadLetters:
        chosen = whose(request, org)
        letters = await webhook_letters(await _bus(jetstream), chosen, after, limit)
        rows = [WebhookDeadLetter(
            cursor=x.sequence, endpoint=x.endpoint, org=x.org, event_id=x.event_id,
            original_stream=x.original_stream, original_sequence=x.original_sequence,
            attempts=x.attempts, error=x.error) for x in letters]
        return WebhookDeadLetters(count=len(rows), next_after=rows[-1].cursor if rows else after,
                                  letters=rows)
