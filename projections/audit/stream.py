"""Reading SEND_EVENTS for audits: fast, read-only, and invisible to the live consumers.

Why an ephemeral pull consumer with `AckPolicy.NONE`, in memory, in big batches: an audit only
reads, so acknowledging each message would double the round trips for nothing; an ephemeral
consumer has its own cursor, so the live durable consumers (`projection-<name>`) never see it,
and the server deletes it when the audit ends (`inactive_threshold`). The audit reads a fixed
range, the stream's last sequence when it started, so events published meanwhile do not make
a report drift.

"What the system knew at time T" is a stream prefix: `last_sequence_stored_by` finds the last
message whose JetStream-assigned timestamp is at or before T.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts.subjects import ALL_EVENTS, EVENT_PREFIX
from services.bus.streams import EVENTS_STREAM
from services.progress import task

READ_BATCH = 2_000


@dataclass(frozen=True)
class StoredMessage:
    """One message exactly as the stream holds it: sequence, subject, bytes and stored time."""

    seq: int
    subject: str
    data: bytes
    stored_at: datetime


def person_subject(person_key: str) -> str:
    """Every event about one person, whoever published it (the person key is the last token)."""
    return f"{EVENT_PREFIX}.*.*.*.{person_key}"


async def read_stream(
    nc: Client,
    *,
    subject: str = ALL_EVENTS,
    start_seq: int = 1,
    stop_seq: int | None = None,
    batch: int = READ_BATCH,
    fetch_timeout: float = 5.0,
) -> AsyncIterator[StoredMessage]:
    """Yield the stored messages on `subject` with `start_seq <= seq <= stop_seq`, in order.

    `stop_seq` defaults to the stream's last sequence when the read starts.
    """
    js = nc.jetstream()
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    stop = last if stop_seq is None else min(stop_seq, last)
    if start_seq > stop:
        return
    sub = await js.pull_subscribe(
        subject,
        stream=EVENTS_STREAM,
        config=ConsumerConfig(
            description="audit read (ephemeral, read-only)",
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(start_seq, 1),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30,
            mem_storage=True,
        ),
    )
    info = await sub.consumer_info()
    try:
        if info.num_pending == 0:
            return
        tick = task("reading the stream", total=stop - max(start_seq, 1) + 1)
        async for message in _fetch_until(sub, stop, batch, fetch_timeout):
            tick(message.seq - max(start_seq, 1) + 1)
            yield message
    finally:
        await _remove(js, sub, info.name)


async def _remove(
    js: JetStreamContext, sub: JetStreamContext.PullSubscription, consumer: str
) -> None:
    """Delete the audit's consumer now rather than leave it until `inactive_threshold`."""
    try:
        await sub.unsubscribe()
        await js.delete_consumer(EVENTS_STREAM, consumer)
    except (nats.errors.Error, ValueError, NotFoundError):
        pass


async def _fetch_until(
    sub: JetStreamContext.PullSubscription, stop: int, batch: int, fetch_timeout: float
) -> AsyncIterator[StoredMessage]:
    while True:
        try:
            msgs = await sub.fetch(batch, timeout=fetch_timeout)
        except nats.errors.TimeoutError:
            raise TimeoutError(
                f"SEND_EVENTS stopped delivering before stream sequence {stop}"
            ) from None
        for msg in msgs:
            meta = msg.metadata
            if meta.sequence.stream > stop:
                return
            yield StoredMessage(meta.sequence.stream, msg.subject, msg.data, meta.timestamp)
            if meta.sequence.stream == stop or meta.num_pending == 0:
                return


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
