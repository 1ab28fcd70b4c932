"""What was shared, with whom, why and when: the deliveries on SEND_FEEDS, read as the auditor.

Every message on SEND_FEEDS is one event delivered to one recipient (`contracts.feeds`): its
subject names the recipient, the source, the event type and the person; its headers the event
id (in `Nats-Msg-Id`), the agreement and clause that entitled the recipient, and the event's
SEND_EVENTS sequence; the server's timestamp says when it was delivered. Reading them from the
bus rather than from the feed process's store means the audit shows what recipients could
actually read, with the same direct gets every audit uses (`projections.audit.stream`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.aio.client import Client
from nats.js.errors import NotFoundError

from contracts.feeds import (
    AGREEMENT_HEADER,
    ALL_FEEDS,
    CLAUSE_HEADER,
    FEEDS_STREAM,
    MSG_ID_HEADER,
    SOURCE_SEQ_HEADER,
    org_feed,
    person_feeds,
)
from projections.audit.stream import StoredMessage, read_stream


@dataclass(frozen=True)
class Shared:
    """One event delivered to one recipient."""

    recipient: str
    source_org: str
    event_type: str
    person_key: str
    event_id: str
    agreement: str
    clause: str
    source_seq: int
    feed_seq: int
    delivered_at: datetime

    def as_record(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient, "source_org": self.source_org, "type": self.event_type,
            "person_key": self.person_key, "event_id": self.event_id,
            "agreement": self.agreement, "clause": self.clause, "source_seq": self.source_seq,
            "feed_seq": self.feed_seq, "delivered_at": self.delivered_at.isoformat(),
        }


def shared_of(message: StoredMessage) -> Shared:
    parts = message.subject.split(".")
    headers = message.headers or {}
    recipient, _, event_id = headers.get(MSG_ID_HEADER, "").partition(".")
    return Shared(
        recipient=parts[2], source_org=parts[3], event_type=f"{parts[4]}.{parts[5]}",
        person_key=parts[6], event_id=event_id, agreement=headers.get(AGREEMENT_HEADER, ""),
        clause=headers.get(CLAUSE_HEADER, ""),
        source_seq=int(headers.get(SOURCE_SEQ_HEADER, 0)), feed_seq=message.seq,
        delivered_at=message.stored_at,
    )


async def deliveries(
    nc: Client, *, person_key: str | None = None, recipient: str | None = None
) -> list[Shared]:
    """Every delivery about `person_key` (or to `recipient`, or all), in delivery order; none
    when no feed process ever ran (no SEND_FEEDS)."""
    subject = (person_feeds(person_key) if person_key else
               org_feed(recipient) if recipient else ALL_FEEDS)
    try:
        found = [shared_of(m) async for m in read_stream(nc, subject=subject,
                                                            stream=FEEDS_STREAM)]
    except NotFoundError:
        return []
    if person_key and recipient:
        found = [s for s in found if s.recipient == recipient]
    return found
