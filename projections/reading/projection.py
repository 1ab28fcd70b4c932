"""What the runner needs from a read model, so one runner serves every projection.

A projection is a name (it names the durable JetStream consumer) and a way to open its store.
The store owns the fold: `apply_batch` folds a batch of events and records the highest stream
sequence handled in the same transaction, so the read model and its position never disagree.
A PostgreSQL store implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from contracts import Envelope
from runtime.bus.durables import projection_durable


class StreamEvent(NamedTuple):
    """A decoded event and the SEND_EVENTS sequence it was stored at."""

    seq: int
    envelope: Envelope


class ProjectionStore(Protocol):
    def position(self) -> int:
        """The highest stream sequence whose message has been applied (0 for a fresh store)."""
        ...

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        """Apply `events` and record `position` (default: their highest seq) in one transaction.

        Events at or below the recorded position are ignored, so a redelivered batch is
        harmless. `position` may exceed every event's seq: messages that were dead-lettered or
        filtered out still move the position on. Returns the new position.
        """
        ...

    def close(self) -> None: ...


class Projection(Protocol):
    @property
    def name(self) -> str:
        """Stable name: the durable consumer is `projection-<name>`."""
        ...

    def open_store(self, location: Path | str) -> ProjectionStore:
        """Open (creating if needed) the store at `location`: a file path or a DSN."""
        ...


def durable_name(projection_name: str) -> str:
    return projection_durable(projection_name)
