"""Turning one fetched batch of JetStream messages into events to apply: shared by the live
runner and the audit rebuild, so both read the stream the same way.

Messages at or below the store's position were applied before (a redelivery after a crash
between commit and ack): they are skipped. Messages that fail `contracts.decode` are returned
separately for the caller to dead-letter (live) or report (rebuild).

Sealed personal fields are opened with the person's key (`services.keystore`): `open_batch`
fetches the keys a batch needs (only for messages that carry `sealed`, found without parsing)
and then decodes. A person with no key left was erased: their fields read as erased. When a
batch holds a `person.erased`, that person's cached key is dropped first, so a live runner and
a later rebuild decode what follows the erasure the same way (without the key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from contracts import DecodeError, Envelope, decode
from contracts.codec import KeyLookup
from contracts.sealing import ERASURE_TYPE
from contracts.subjects import parse_event_subject
from projections.direct import SEQUENCE_HEADER
from projections.projection import StreamEvent
from services.keystore import PersonKeyStore

EventFilter = Callable[[Envelope], bool]


@dataclass
class DecodedBatch:
    events: list[StreamEvent] = field(default_factory=list)
    invalid: list[tuple[Msg, DecodeError]] = field(default_factory=list)
    filtered_out: int = 0
    skipped: int = 0
    highest: int = 0
    """Highest stream sequence handled in this batch (applied, invalid or filtered out)."""

    @property
    def handled(self) -> int:
        return len(self.events) + len(self.invalid) + self.filtered_out


def stream_seq(msg: Msg) -> int:
    """From a consumer's delivery (its ack reply subject), or from a direct get's header (it
    has no reply; a publisher's own `Nats-Sequence` header is replaced by the server's)."""
    if msg.reply:
        return msg.metadata.sequence.stream
    return int((msg.headers or {})[SEQUENCE_HEADER])


def decode_batch(
    msgs: Sequence[Msg],
    *,
    after: int,
    until: int | None = None,
    accept: EventFilter | None = None,
    keys: KeyLookup | None = None,
) -> DecodedBatch:
    """Decode the messages with `after < seq <= until`; `accept` may leave valid events out.

    With `keys`, sealed personal fields are opened (or read as erased)."""
    batch = DecodedBatch()
    for msg in msgs:
        seq = stream_seq(msg)
        if seq <= after or (until is not None and seq > until):
            batch.skipped += 1
            continue
        batch.highest = max(batch.highest, seq)
        try:
            envelope = decode(msg.data, subject=msg.subject, keys=keys)
        except DecodeError as error:
            batch.invalid.append((msg, error))
            continue
        if accept is not None and not accept(envelope):
            batch.filtered_out += 1
            continue
        batch.events.append(StreamEvent(seq, envelope))
    return batch


SEALED_MARK = b'"sealed":'


def _person_of(msg: Msg) -> tuple[str, str] | None:
    """(event type, person key) from the subject, or None for a subject decode will reject."""
    try:
        return parse_event_subject(msg.subject)[1:]
    except ValueError:
        return None


async def open_batch(
    msgs: Sequence[Msg],
    keys: PersonKeyStore,
    *,
    after: int,
    until: int | None = None,
    accept: EventFilter | None = None,
) -> DecodedBatch:
    """`decode_batch` with the sealing keys the batch needs fetched first."""
    lookup = await load_keys(msgs, keys)
    return decode_batch(msgs, after=after, until=until, accept=accept, keys=lookup)


async def load_keys(msgs: Sequence[Msg], keys: PersonKeyStore) -> KeyLookup:
    """Fetch the sealing keys `msgs` need (forgetting erased people's first): the lookup to
    decode them with, which needs no I/O, so decoding can run in another thread."""
    about = [(m, _person_of(m)) for m in msgs]
    for _, found in about:
        if found is not None and found[0] == ERASURE_TYPE:
            keys.forget(found[1])
    await keys.load(found[1] for m, found in about if found is not None and SEALED_MARK in m.data)
    return keys.cached
