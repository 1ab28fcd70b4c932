"""Reading one partner's messages of a stream from a cursor (direct gets; no consumer).

The cursor is the stream sequence each CloudEvent carries (`sendxsequence`): a partner that
missed deliveries, or wants to rebuild, asks for everything after the last one it processed.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

MAX_PAGE = 500


@dataclass(frozen=True)
class StoredMessage:
    stream: str
    sequence: int
    subject: str
    data: bytes
    headers: dict[str, str]


async def messages_after(js: JetStreamContext, stream: str, subject: str, after: int,
                         limit: int) -> list[StoredMessage]:
    """Up to `limit` messages on `subject` (a wildcard) with a sequence above `after`."""
    found: list[StoredMessage] = []
    seq = after + 1
    while len(found) < min(limit, MAX_PAGE):
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, direct=True, next=True)
        except NotFoundError:
            break
        if msg.seq is None or msg.subject is None:
            break
        found.append(StoredMessage(stream, msg.seq, msg.subject, msg.data or b"",
                                   dict(msg.headers or {})))
        seq = msg.seq + 1
    return found
