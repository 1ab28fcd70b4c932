"""The cross-agency data standard: envelope, event payload models, registry, subjects, codec.

Every other package imports this one; it holds data, not behaviour, and does no I/O.
Importing it registers every event family.
"""

from contracts import (  # noqa: F401  (registration)
    ap,
    disagreement,
    ehc,
    health,
    person,
    provider,
    transition,
)
from contracts.codec import DecodeError, decode, encode
from contracts.envelope import Envelope, Payload
from contracts.registry import all_events, current_version, model_for

__all__ = [
    "DecodeError",
    "Envelope",
    "Payload",
    "all_events",
    "current_version",
    "decode",
    "encode",
    "model_for",
]
