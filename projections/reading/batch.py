"""Turning one fetched batch of JetStream messages into events to apply: shared by the live
runner and the audit rebuild, so both read the stream the same way.

Messages at or below the store's position were applied before (a redelivery after a crash
between commit and ack): they are skipped. Messages that fail `contracts.decode` are returned
separately for the caller to dead-letter (live) or report (rebuild), and so are events the
partnership's ownership rule refuses (`runtime.ownership`: a school's `ehc.plan_issued`):
reason `not_permitted`, never applied.

Sealed personal fields are opened with the person's key (`runtime.keystore`): `load_keys`
fetches the keys a batch needs (only for messages that carry `sealed`, found without parsing)
into a plain table, and decoding needs nothing else (`RawEvent`s and that table), so it can run
in the store's thread or in a store worker process (`projections.reading.store_worker`). A person
with no key left was erased: their fields read as erased. When a batch holds a `person.erased`, that
person's cached key is dropped first, so a live runner and a later rebuild decode what follows
the erasure the same way (without the key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from nats.aio.msg import Msg

from contracts import DecodeError, Envelope, decode
from contracts.sealing import ERASURE_TYPE, key_name
from contracts.subjects import parse_event_subject
from projections.reading.direct import SEQUENCE_HEADER
from projections.reading.projection import StreamEvent
from runtime.keystore import PersonKeyStore
from runtime.ownership import refusal

EventFilter = Callable[[Envelope], bool]
SubjectFilter = Callable[[str], bool]
"""Whether a store needs the event with this SEND_EVENTS subject at all (`needs_subject`)."""
KeyTable = dict[str, bytes | None]
"""`key_name(org, person)` -> sealing key (None: that organisation erased the person) for the
sealed fields of a batch: a plain dict, so a batch can be decoded in another thread or process."""


class RawEvent(NamedTuple):
    """A message as the stream holds it: all that decoding needs, cheap to send to a worker."""

    seq: int
    subject: str
    data: bytes


def raw_events(msgs: Sequence[Msg]) -> list[RawEvent]:
    """Each message's stream sequence (parsed once), SEND_EVENTS subject and body."""
    return [RawEvent(stream_seq(m), m.subject, m.data) for m in msgs]


@dataclass
class DecodedBatch:
    events: list[StreamEvent] = field(default_factory=list)
    invalid: list[tuple[int, DecodeError]] = field(default_factory=list)
    """(index in the batch, why) of each message that could not be decoded."""
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
    raws: Sequence[RawEvent],
    *,
    after: int,
    until: int | None = None,
    accept: EventFilter | None = None,
    keys: KeyTable | None = None,
    needed: SubjectFilter | None = None,
) -> DecodedBatch:
    """Decode the events with `after < seq <= until`; `accept` may leave valid events out.

    With `keys`, sealed personal fields are opened (or read as erased). With `needed`, a message
    whose subject it refuses is not even decoded (filtered out, so not judged valid or not:
    that store has no use for it, and the projections that do dead-letter it)."""
    batch = DecodedBatch()
    lookup = None if keys is None else keys.get
    for index, (seq, subject, data) in enumerate(raws):
        if seq <= after or (until is not None and seq > until):
            batch.skipped += 1
            continue
        batch.highest = max(batch.highest, seq)
        if needed is not None and not needed(subject):
            batch.filtered_out += 1
            continue
        try:
            envelope = admitted(decode(data, subject=subject, keys=lookup))
        except DecodeError as error:
            batch.invalid.append((index, error))
            continue
        if accept is not None and not accept(envelope):
            batch.filtered_out += 1
            continue
        batch.events.append(StreamEvent(seq, envelope))
    return batch


def admitted(envelope: Envelope) -> Envelope:
    """The envelope, if its source may make that claim (`runtime.ownership`); else a
    `DecodeError("not_permitted")`, dead-lettered like any invalid message and never applied."""
    why = refusal(envelope)
    if why is not None:
        raise DecodeError("not_permitted", why)
    return envelope


SEALED_MARK = b'"sealed":'


def _about(msg: Msg) -> tuple[str, str, str] | None:
    """(source organisation, event type, person key) from the subject, or None for a subject
    decode will reject."""
    try:
        return parse_event_subject(msg.subject)
    except ValueError:
        return None


async def load_keys(
    msgs: Sequence[Msg], keys: PersonKeyStore, needed: SubjectFilter | None = None
) -> KeyTable:
    """Fetch the sealing keys `msgs` need (forgetting those of organisations that erased the
    person first): the table to decode them with, by `key_name(org, person)`, which needs no
    I/O, so decoding can run in another thread or process. With `needed`, only for the
    messages the store will decode (`decode_batch`)."""
    # Only an erasure or a sealed body needs its subject parsed (most events are neither).
    about = [(m, _about(m)) for m in msgs if ERASURE_TYPE in m.subject or SEALED_MARK in m.data]
    for _, found in about:
        if found is not None and found[1] == ERASURE_TYPE:
            keys.forget(key_name(found[0], found[2]))
    sealed = {(found[0], found[2]) for m, found in about
              if found is not None and SEALED_MARK in m.data
              and (needed is None or needed(m.subject))}
    await keys.load(sealed)
    table: KeyTable = {}
    for org, person in sealed:  # a key the bounded cache let go meanwhile is read again
        name = key_name(org, person)
        table[name] = keys.cached(name) or await keys.lookup(org, person)
    return table
