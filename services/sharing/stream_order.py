"""Reading JetStream's refusal of an event published out of turn (the relay's order condition).

A publish with `Nats-Expected-Last-Subject-Sequence` that does not match is refused with error
code 10071, "wrong last sequence: <n>", `n` being the sequence of the last stored message on the
subjects checked (a clustered leader still applying the previous one refuses with the same code
and no number); one with `Nats-Expected-Last-Msg-Id` with 10070, "wrong last msg ID: <id>".
"""

from __future__ import annotations

import logging
import re

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import APIError

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
"""JetStream's JSStreamWrongLastSequenceErrF."""
WRONG_LAST_MSG_ID = 10070
"""JetStream's JSStreamWrongLastMsgIDErrF."""

_NAMED = re.compile(r"wrong last sequence: (\d+)")


def is_out_of_turn(failure: BaseException) -> bool:
    """Whether JetStream refused the event only because another was expected before it."""
    return isinstance(failure, APIError) and failure.err_code in (
        WRONG_LAST_SEQUENCE, WRONG_LAST_MSG_ID
    )


def last_sequence_in_refusal(failure: BaseException) -> int | None:
    """The stream sequence of the last stored message the refusal names, if it names one."""
    if not isinstance(failure, APIError) or failure.err_code != WRONG_LAST_SEQUENCE:
        return None
    found = _NAMED.search(str(getattr(failure, "description", "") or ""))
    return int(found.group(1)) if found else None


def deliver_refusals(js: JetStreamContext) -> None:
    """Make `js.publish_async` fail its future with JetStream's refusal.

    nats-py 2.16's reply handler raises the refusal (`APIError.from_error` raises) inside its
    subscription callback instead of setting it on the future, so a refused publish only ever
    timed out. This wraps that handler on `js` (before its first `publish_async`, when it
    subscribes) to hand the refusal to the future; the reply subject's last token is the
    future's key. Idempotent."""
    if getattr(js, "_sendx_refusals_delivered", False):
        return
    if getattr(js, "_async_reply_prefix", None):
        log.warning("publish_async already in use on %r: refused events will time out", js)
        return
    original = js._handle_async_reply

    async def handle(msg: Msg) -> None:
        try:
            await original(msg)
        except APIError as refusal:
            future = js._publish_async_futures.get(msg.subject.rpartition(".")[2])
            if future is not None and not future.done():
                future.set_exception(refusal)

    js._handle_async_reply = handle  # type: ignore[method-assign]
    js._sendx_refusals_delivered = True  # type: ignore[attr-defined]
