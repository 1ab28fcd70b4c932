"""As-of replays: any projection rebuilt into a fresh store as it stood, or as it truly was, at T.

Two questions, two cuts of the same history:

- `recorded` — what the system knew at T, i.e. what a dashboard could have shown: the events
  SEND_EVENTS held at T, meaning every message whose *JetStream-assigned* stored timestamp is at
  or before T. That is a prefix of the stream (the server stamps messages in sequence order),
  so the replay is exactly "the live projection at stream sequence N" and reports N — the same
  `as_at_stream_sequence` every query answer carries, so an auditor can match a screenshot.
  Not the envelope's `recorded_at`: that is the source's own clock claim of when *it* stored
  the event, and a relay delivers hours or weeks later (nightly batches, outages), so an event
  recorded before T may have reached nobody by T; a source's clock can also be wrong or
  backdated. The bus timestamp is assigned by the one server everyone shares.
- `occurred` — what was true in the world at T, as known now: every event now on the stream
  whose `occurred_at` is at or before T, including those that reached the bus long after T
  (late returns, backlogs). The position is the stream's last sequence when the replay ran.

Replays read the stream with batched direct gets into a fresh store, each person folded once
(`projections.reading.rebuild`): the live durable consumers and stores are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from nats.aio.client import Client

from contracts import Envelope
from projections.audit.stream import last_sequence_stored_by
from projections.reading.batch import EventFilter
from projections.reading.projection import Projection, ProjectionStore
from projections.reading.rebuild import rebuild

REPLAY_BATCH = 2_000


class ReplayBy(StrEnum):
    RECORDED = "recorded"
    OCCURRED = "occurred"


class StoreExists(FileExistsError):
    """A replay writes a new store; it never overwrites (or adds to) an existing one."""


@dataclass
class Replay:
    projection: str
    as_of: datetime
    by: ReplayBy
    location: Path
    position: int = 0
    """The stream sequence the replayed read model reflects."""
    applied: int = 0
    left_out: int = 0
    """Events on the stream up to `position` that the cut left out (occurred after T)."""
    invalid: list[tuple[int, str]] = field(default_factory=list)


def occurred_by(moment: datetime) -> EventFilter:
    """Keep only events that happened in the world at or before `moment`."""

    def accept(envelope: Envelope) -> bool:
        return envelope.occurred_at <= moment

    return accept


def require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(
            f"--as-of {moment.isoformat()} has no UTC offset: write e.g. "
            f"{moment.isoformat()}+00:00"
        )
    return moment


async def replay_as_of(
    nc: Client, projection: Projection, location: Path, *, as_of: datetime, by: ReplayBy
) -> Replay:
    """Rebuild `projection` into a new store at `location` as of `as_of`, cut `by` one clock."""
    require_aware(as_of)
    if location.exists():
        raise StoreExists(f"{location} exists: a replay writes a new store")
    replay = Replay(projection.name, as_of, by, location)
    store: ProjectionStore = projection.open_store(location)
    try:
        if by is ReplayBy.RECORDED:
            stop = await last_sequence_stored_by(nc.jetstream(), as_of)
            report = await rebuild(
                nc, store, stop_seq=stop, batch_size=REPLAY_BATCH, spill_dir=location.parent
            )
        else:
            report = await rebuild(
                nc, store, accept=occurred_by(as_of), batch_size=REPLAY_BATCH,
                spill_dir=location.parent,
            )
    finally:
        store.close()
    replay.position, replay.applied = report.position, report.applied
    replay.left_out, replay.invalid = report.filtered_out, report.invalid
    return replay
