"""Reading one partner's messages of a stream from a cursor (direct gets; no consumer), and
the values of a feed delivery's opened fields.

The cursor is the stream sequence each CloudEvent carries (`sendxsequence`): a partner that
missed deliveries, or wants to rebuild, asks for everything after the last one it processed.
A feed delivery whose clause opened personal fields (`Sendx-Opened`) is read with the
recipient's feed key (`runtime.feedkeys.read_feed_key`) by whoever hands it to the partner in
clear (the webhook deliverer, the API's replay route): the same values either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.feeds import FEEDS_STREAM, OPENED_HEADER
from contracts.sealing import SealError, open_feed_fields
from runtime.feedkeys import read_feed_key

log = logging.getLogger(__name__)

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


async def opened_fields(js: JetStreamContext, stored: StoredMessage) -> dict[str, object] | None:
    """The values of a feed delivery's opened fields, read with its recipient's feed key; None
    when it has none, the key is gone (erased since) or the header is malformed (logged: the
    event then goes with them sealed). A bus error raises: the caller retries."""
    tokens = stored.headers.get(OPENED_HEADER)
    if stored.stream != FEEDS_STREAM or not tokens:
        return None
    try:
        event, opened = orjson.loads(stored.data), orjson.loads(tokens)
        recipient = stored.subject.split(".")[2]  # send.feed.<recipient>.<source>...
        key = await read_feed_key(js, recipient, event["source_org"], event["person_key"])
        return None if key is None else open_feed_fields(event, opened, key, recipient)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, SealError) as exc:
        log.warning("opened fields of %s %s not read (%s): given sealed", stored.stream,
                    stored.sequence, exc)
        return None
