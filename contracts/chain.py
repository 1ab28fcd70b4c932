"""The tamper-evident chain of one source's events: each envelope's `prev_hash` is the SHA-256
of the encoded bytes of the same source's previously published envelope.

Pure functions, so that a relay (which builds the chain) and an auditor (who checks it from the
stream) compute it the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.codec import encode
from contracts.envelope import Envelope


def envelope_hash(envelope: Envelope) -> str:
    """SHA-256 hex of the envelope exactly as it travels (`contracts.encode`)."""
    return bytes_hash(encode(envelope))


def bytes_hash(data: bytes) -> str:
    """SHA-256 hex of a message body as stored on the stream."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    source_position: int
    expected_prev_hash: str | None
    found_prev_hash: str | None

    def __str__(self) -> str:
        return (
            f"event at source position {self.source_position}: prev_hash "
            f"{self.found_prev_hash} does not match the previous event ({self.expected_prev_hash})"
        )


def chain_breaks(bodies: Iterable[tuple[bytes, Envelope]]) -> list[ChainBreak]:
    """Check one source's (raw bytes, decoded envelope) pairs in publication order.

    The first event may start the chain anywhere (its prev_hash is not checked); every later one
    must name the hash of the one before it.
    """
    breaks: list[ChainBreak] = []
    previous: str | None = None
    first = True
    for body, envelope in bodies:
        if not first and envelope.prev_hash != previous:
            breaks.append(ChainBreak(envelope.source_position, previous, envelope.prev_hash))
        previous, first = bytes_hash(body), False
    return breaks
