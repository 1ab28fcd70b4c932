"""Reading SEND_EVENTS for audits: fast, read-only, and invisible to the live consumers.

Why batched direct gets (`projections.reading.direct`, as rebuilds read): an audit only reads, so it
needs no consumer at all, only the read permission the `auditor` user has
(`runtime.bus.permissions.read_stream`); the live durable consumers (`projection-<name>`)
never see it, and nothing is left on the server afterwards. An ephemeral pull consumer would
need the consumer API the auditor is not given (it could pull from the projector's durable).
The audit reads a fixed range, the stream's last sequence when it started, so events published
meanwhile do not make a report drift.

"What the system knew at time T" is a stream prefix: `last_sequence_stored_by` finds the last
message whose JetStream-assigned timestamp is at or before T.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.subjects import ALL_EVENTS, EVENT_PREFIX
from projections.reading.direct import SEQUENCE_HEADER, DirectReader
from runtime.bus.streams import EVENTS_STREAM
from runtime.progress import task

READ_BATCH = 2_000
TIME_HEADER = "Nats-Time-Stamp"
PENDING_HEADER = "Nats-Num-Pending"


@dataclass(frozen=True)
class StoredMessage:
    """One message exactly as the stream holds it: sequence, subject, bytes and stored time."""

    seq: int
    subject: str
    data: bytes
    stored_at: datetime
    headers: dict[str, str] | None = None
    """The headers stored with it (`Nats-Msg-Id`, and a feed delivery's `Sendx-*`)."""


def person_subject(person_key: str) -> str:
    """Every event about one person, whoever published it (the person key is the last token)."""
    return f"{EVENT_PREFIX}.*.*.*.{person_key}"


def server_time(text: str) -> datetime:
    """`2026-12-02T07:00:34.089673339Z` (nanoseconds) -> an aware datetime (microseconds)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


async def read_stream(
    nc: Client,
    *,
    subject: str = ALL_EVENTS,
    start_seq: int = 1,
    stop_seq: int | None = None,
    batch: int = READ_BATCH,
    fetch_timeout: float = 5.0,
    stream: str = EVENTS_STREAM,
) -> AsyncIterator[StoredMessage]:
    """Yield the stored messages on `subject` with `start_seq <= seq <= stop_seq`, in order.

    `stop_seq` defaults to the stream's last sequence when the read starts. `stream`: SEND_EVENTS
    unless told (`projections.audit.deliveries` reads SEND_FEEDS the same way).
    """
    js = nc.jetstream()
    state = (await js.stream_info(stream)).state
    stop = state.last_seq if stop_seq is None else min(stop_seq, state.last_seq)
    start = max(start_seq, state.first_seq, 1)
    if start > stop or state.messages == 0:
        return
    reader = await DirectReader(nc, stream, subject, start=start, stop=stop,
                                batch=batch).open()
    try:
        tick = task("reading the stream", total=stop - start + 1)
        while msgs := await reader.next(fetch_timeout):
            for msg in msgs:
                headers = msg.headers or {}
                seq = int(headers[SEQUENCE_HEADER])
                if seq > stop:
                    return
                tick(seq - start + 1)
                yield StoredMessage(seq, msg.subject, msg.data, server_time(headers[TIME_HEADER]),
                                    dict(headers))
            # the server counts what is left on `subject`: none left, nothing more to ask for
            if (msgs[-1].headers or {}).get(PENDING_HEADER) == "0":
                return
    finally:
        await reader.close()


async def stored_at(js: JetStreamContext, seq: int) -> tuple[int, datetime] | None:
    """(sequence, stored time) of the first message at or after `seq`; None past the end."""
    try:
        msg = await js.get_msg(EVENTS_STREAM, seq, subject=ALL_EVENTS, next=True)
    except NotFoundError:
        return None
    assert msg.seq is not None and msg.time is not None
    return msg.seq, msg.time


async def last_sequence_stored_by(js: JetStreamContext, moment: datetime) -> int:
    """The last stream sequence whose message the server had stored at or before `moment`.

    Binary search over the server's own timestamps (about 20 look-ups for a million events),
    which the server assigns in sequence order. Resolution is one microsecond (nats-py's).
    0 when the stream held nothing yet.
    """
    state = (await js.stream_info(EVENTS_STREAM)).state
    low, high, found = state.first_seq, state.last_seq, 0
    while low <= high:
        middle = (low + high) // 2
        probe = await stored_at(js, middle)
        if probe is None or probe[0] > high:
            high = middle - 1
            continue
        seq, when = probe
        if when <= moment:
            found, low = seq, seq + 1
        else:
            high = middle - 1
    return found
