"""What a webhook could not deliver within its retry period: kept on SEND_DEADLETTER.

The existing dead-letter conventions (`projections.reading.dead_lettering`): the body is the
original message's bytes, unchanged; headers say why (`Sendx-Reason: webhook_undeliverable`,
`Sendx-Error`: the last answer or failure) and where it came from (original subject, stream,
sequence), plus the endpoint and its organisation. The subject is `send.dlq.webhook.<org>`,
so a partner's letters are found by subject, and `Nats-Msg-Id` is derived from the endpoint and
the original sequence, so a crash between the letter and the ack stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext

from contracts.subjects import deadletter_subject
from projections.delivery.replay import StoredMessage, messages_after
from projections.reading.dead_lettering import (
    ERROR,
    ORIGINAL_SEQUENCE,
    ORIGINAL_STREAM,
    ORIGINAL_SUBJECT,
    REASON,
    _header_value,
)
from runtime.bus.streams import DEADLETTER_STREAM

WEBHOOK_STAGE = "webhook"
UNDELIVERABLE = "webhook_undeliverable"
ENDPOINT = "Sendx-Endpoint"
ATTEMPTS = "Sendx-Attempts"


def webhook_letters_subject(org: str | None) -> str:
    return deadletter_subject(WEBHOOK_STAGE, org) if org else f"send.dlq.{WEBHOOK_STAGE}.>"


async def dead_letter_delivery(js: JetStreamContext, endpoint: str, org: str,
                               message: StoredMessage, error: str, attempts: int) -> None:
    """Store the undelivered message (raises if the server does not acknowledge it)."""
    await js.publish(
        deadletter_subject(WEBHOOK_STAGE, org), message.data,
        headers={
            REASON: UNDELIVERABLE, ERROR: _header_value(error),
            ORIGINAL_SUBJECT: message.subject, ORIGINAL_STREAM: message.stream,
            ORIGINAL_SEQUENCE: str(message.sequence), ENDPOINT: endpoint,
            ATTEMPTS: str(attempts),
            "Nats-Msg-Id": f"{WEBHOOK_STAGE}:{endpoint}:{message.stream}:{message.sequence}",
        },
    )


@dataclass(frozen=True)
class WebhookLetter:
    sequence: int
    """On SEND_DEADLETTER: the cursor of the next page."""
    endpoint: str
    org: str
    error: str
    attempts: int
    original_stream: str
    original_sequence: int
    original_subject: str
    event_id: str


async def webhook_letters(js: JetStreamContext, org: str | None, after: int = 0,
                          limit: int = 100) -> list[WebhookLetter]:
    """The webhook dead letters of `org` (None: every organisation's), oldest first."""
    letters = []
    for m in await messages_after(js, DEADLETTER_STREAM, webhook_letters_subject(org),
                                  after, limit):
        h = m.headers
        letters.append(WebhookLetter(
            sequence=m.sequence, endpoint=h.get(ENDPOINT, ""), org=m.subject.rsplit(".", 1)[-1],
            error=h.get(ERROR, ""), attempts=int(h.get(ATTEMPTS, "0") or 0),
            original_stream=h.get(ORIGINAL_STREAM, ""),
            original_sequence=int(h.get(ORIGINAL_SEQUENCE, "0") or 0),
            original_subject=h.get(ORIGINAL_SUBJECT, ""),
            event_id=_event_id(m),
        ))
    return letters


def _event_id(message: StoredMessage) -> str:
    """The letter's event id (the body's `event_id`), '' when the body has none."""
    try:
        body = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        return ""
    return str(body.get("event_id", "")) if isinstance(body, dict) else ""
