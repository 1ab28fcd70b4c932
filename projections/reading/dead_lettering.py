"""Dead-lettering a message that cannot be decoded: kept, explained, never silently dropped.

The dead letter's body is the original bytes, unchanged, so the publisher can see exactly what
it sent; the headers say why it was refused and where it came from. `Nats-Msg-Id` is derived
from the original stream and sequence, so a message dead-lettered twice (after a crash before
the ack, or by a second projection) is stored once within the duplicate window.
"""

from __future__ import annotations

import re

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts import DecodeError
from contracts.envelope import ORG_CODE_PATTERN
from contracts.subjects import deadletter_subject

DECODE_STAGE = "decode"
REASON = "Sendx-Reason"
ERROR = "Sendx-Error"
ORIGINAL_SUBJECT = "Sendx-Original-Subject"
ORIGINAL_STREAM = "Sendx-Original-Stream"
ORIGINAL_SEQUENCE = "Sendx-Original-Sequence"
MAX_HEADER_VALUE = 2000

_ORG_CODE = re.compile(ORG_CODE_PATTERN)


def source_org_of(subject: str) -> str | None:
    """The publisher named by the subject (4th token), which NATS permissions vouch for."""
    parts = subject.split(".")
    if len(parts) > 3 and _ORG_CODE.match(parts[3]):
        return parts[3]
    return None


def _header_value(text: str) -> str:
    """Header values are one line; keep the message readable and bounded."""
    return " ".join(text.split())[:MAX_HEADER_VALUE]


def deadletter_headers(error: DecodeError, subject: str, stream: str, seq: int) -> dict[str, str]:
    return {
        REASON: error.reason,
        ERROR: _header_value(str(error)),
        ORIGINAL_SUBJECT: subject,
        ORIGINAL_STREAM: stream,
        ORIGINAL_SEQUENCE: str(seq),
        "Nats-Msg-Id": f"{DECODE_STAGE}:{stream}:{seq}",
    }


async def dead_letter(js: JetStreamContext, msg: Msg, error: DecodeError) -> None:
    """Store `msg` on SEND_DEADLETTER and wait for the server's ack (raises if not stored)."""
    meta = msg.metadata
    await js.publish(
        deadletter_subject(DECODE_STAGE, source_org_of(msg.subject)),
        msg.data,
        headers=deadletter_headers(error, msg.subject, meta.stream, meta.sequence.stream),
    )
