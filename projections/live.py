"""The live feed: every committed projection change, on NATS and as Server-Sent Events.

Why two halves:
- The runner (one process) announces each committed batch on `projections.<name>.changed`
  (`ChangeAnnouncer`, the runner's `on_commit` hook). Core NATS, not JetStream: a change event
  is a doorbell, not history — the history is SEND_EVENTS and the read model's position.
- The API (another process, maybe several) serves `/api/live` to dashboards. A subscriber must
  never miss a change between "what is the state now" and "tell me what changes", so the order
  is: subscribe to NATS first (and flush, so the server has the interest), buffer, then read the
  snapshot with its position, then forward only changes with a higher position.
- Core NATS is at-most-once (a reconnect can drop a message), so every quiet `heartbeat` the
  stream also compares the read model's position with the last one sent and emits a change
  when it moved: a missed doorbell costs at most one heartbeat, never a stale dashboard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import BaseModel, Field, ValidationError

from contracts.subjects import projection_changes
from projections.projection import StreamEvent

log = logging.getLogger(__name__)

MAX_LISTED = 24
"""Months or organisations listed in a change before it just counts them (keeps events small)."""


class ProjectionChange(BaseModel):
    """What a committed batch changed: enough for a dashboard to decide what to refetch."""

    projection: str
    position: int = Field(description="SEND_EVENTS sequence the read model has now applied.")
    previous_position: int
    events: int = Field(description="Events applied in this batch (0: only dead letters).")
    people: int = Field(description="Distinct person keys the batch touched.")
    months: list[str] = Field(description="YYYY-MM of the events' occurred_at (at most 24).")
    source_orgs: list[str] = Field(description="Organisations whose events were applied.")
    committed_at: datetime
    source: str = Field(
        default="runner", description="'runner' (announced) or 'position' (seen by a heartbeat)."
    )


def change_of(
    projection: str, events: Sequence[StreamEvent], previous: int, position: int,
    committed_at: datetime | None = None,
) -> ProjectionChange:
    """Summarise a committed batch. Pure."""
    envelopes = [e.envelope for e in events]
    months = sorted({e.occurred_at.strftime("%Y-%m") for e in envelopes})
    return ProjectionChange(
        projection=projection, position=position, previous_position=previous,
        events=len(envelopes), people=len({e.person_key for e in envelopes}),
        months=months[-MAX_LISTED:], source_orgs=sorted({e.source_org for e in envelopes}),
        committed_at=committed_at or datetime.now(UTC),
    )


class ChangeAnnouncer:
    """The runner's `on_commit` hook: publishes a `ProjectionChange` after each commit.

    A failed announcement is logged, never raised: the batch is committed and must be acked;
    dashboards catch up on their next heartbeat.
    """

    def __init__(self, nc: Client, projection: str) -> None:
        self._nc = nc
        self.projection = projection
        self.subject = projection_changes(projection)

    async def __call__(self, events: Sequence[StreamEvent], previous: int, position: int) -> None:
        change = change_of(self.projection, events, previous, position)
        try:
            await self._nc.publish(self.subject, change.model_dump_json().encode())
        except (nats.errors.Error, OSError) as exc:
            log.warning("could not announce %s at %d: %s", self.subject, position, exc)


ReadPositions = Callable[[], Awaitable[dict[str, int]]]
"""The applied position of every projection the API serves, by projection name."""


class LiveFeed:
    """One NATS subscription per projection per API process, fanned out to every listener."""

    def __init__(
        self, projections: Sequence[str] = ("dataset",), *, nc: Client | None = None,
        nats_url: str | None = None, connect: Callable[[str], Awaitable[Client]] | None = None,
        heartbeat: float = 15.0,
    ) -> None:
        self.projections = tuple(projections)
        self.heartbeat = heartbeat
        """Seconds of quiet before a stream checks the positions itself (and sends a comment)."""
        self._nc, self._url, self._connect = nc, nats_url, connect
        self._owns_connection = nc is None
        self._listeners: set[asyncio.Queue[ProjectionChange]] = set()
        self._subscriptions: list[Any] = []
        self._lock = asyncio.Lock()

    async def _ensure_subscribed(self) -> None:
        async with self._lock:
            if self._subscriptions:
                return
            try:
                if self._nc is None and self._url is not None and self._connect is not None:
                    self._nc = await asyncio.wait_for(self._connect(self._url), timeout=3)
                if self._nc is None:
                    return
                for name in self.projections:
                    self._subscriptions.append(
                        await self._nc.subscribe(projection_changes(name), cb=self._on_message))
                await self._nc.flush(timeout=3)
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                log.warning("live feed without NATS (%s): heartbeats only", exc)

    async def _on_message(self, msg: Msg) -> None:
        try:
            change = ProjectionChange.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("ignoring a malformed change on %s: %s", msg.subject, exc)
            return
        for queue in list(self._listeners):
            queue.put_nowait(change)

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[ProjectionChange]]:
        """A queue of changes, subscribed (and confirmed by the server) before it is yielded."""
        queue: asyncio.Queue[ProjectionChange] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            await self._ensure_subscribed()
            yield queue
        finally:
            self._listeners.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def close(self) -> None:
        for subscription in self._subscriptions:
            try:
                await subscription.unsubscribe()
            except (nats.errors.Error, ValueError):
                pass
        self._subscriptions = []
        if self._owns_connection and self._nc is not None:
            await self._nc.close()
            self._nc = None


def sse_frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One Server-Sent Events message (JSON data on one line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


Snapshot = Callable[[], Awaitable[tuple[dict[str, int], Any]]]
"""Reads (positions by projection, figures) — the figures at or after those positions."""


async def change_stream(
    feed: LiveFeed, snapshot: Snapshot, positions: ReadPositions,
) -> AsyncIterator[bytes]:
    """The snapshot first, then every change past the snapshot's positions, in order."""
    async with feed.listen() as queue:
        sent, figures = await snapshot()
        primary = feed.projections[0]
        yield sse_frame("snapshot", {"position": sent.get(primary, 0), "positions": sent,
                                     "figures": figures}, sent.get(primary))
        while True:
            try:
                changes = [await asyncio.wait_for(queue.get(), feed.heartbeat)]
            except TimeoutError:
                changes = _moved(feed.projections, sent, await positions())
                if not changes:
                    yield b": heartbeat\n\n"
                    continue
            for change in changes:
                if change.position <= sent.get(change.projection, 0):
                    continue
                sent[change.projection] = change.position
                yield sse_frame("change", change.model_dump(mode="json"), change.position)


def _moved(projections: Sequence[str], sent: dict[str, int], now: dict[str, int],
           ) -> list[ProjectionChange]:
    """Changes a heartbeat noticed (a doorbell lost on the way): the positions that moved."""
    return [
        ProjectionChange(
            projection=name, position=now[name], previous_position=sent.get(name, 0), events=0,
            people=0, months=[], source_orgs=[], committed_at=datetime.now(UTC),
            source="position",
        )
        for name in projections if now.get(name, 0) > sent.get(name, 0)
    ]
