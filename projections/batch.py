"""Turning one fetched batch of JetStream messages into events to apply: shared by the live
runner and the audit rebuild, so both read the stream the same way.

Messages at or below the store's position were applied before (a redelivery after a crash
between commit and ack): they are skipped. Messages that fail `contracts.decode` are returned
separately for the caller to dead-letter (live) or report (rebuild).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from contracts import DecodeError, Envelope, decode
from projections.projection import StreamEvent

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
    return msg.metadata.sequence.stream


def decode_batch(
    msgs: Sequence[Msg],
    *,
    after: int,
    until: int | None = None,
    accept: EventFilter | None = None,
) -> DecodedBatch:
    """Decode the messages with `after < seq <= until`; `accept` may leave valid events out."""
    batch = DecodedBatch()
    for msg in msgs:
        seq = stream_seq(msg)
        if seq <= after or (until is not None and seq > until):
            batch.skipped += 1
            continue
        batch.highest = max(batch.highest, seq)
        try:
            envelope = decode(msg.data, subject=msg.subject)
        except DecodeError as error:
            batch.invalid.append((msg, error))
            continue
        if accept is not None and not accept(envelope):
            batch.filtered_out += 1
            continue
        batch.events.append(StreamEvent(seq, envelope))
    return batch
