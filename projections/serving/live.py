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
- Partitioned projectors (`projections.reading.partitions`): N workers commit independently, so one
  worker's position says nothing about the others', and announcing it as the read model's
  would claim events not yet applied (and hide the slower partitions' later changes). So
  the API process watches instead (`LiveFeed.follow`): every `poll` seconds, or at once when a
  worker rings (`ChangeAnnouncer(partition=...)`), it reads every partition's committed
  position from the store and the sequence up to which *all* are applied (`progress_of`), and
  sends a change whenever any partition moved: `partitions` holds each one's position and
  `position` the complete-up-to sequence. Read from what is committed, never from a promise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel, Field, ValidationError
from sse_starlette import EventSourceResponse, JSONServerSentEvent, ServerSentEvent

from contracts.subjects import projection_changes
from projections.reading.applying import Summary
from projections.reading.partitions import Partition, Progress
from projections.reading.pull import unsubscribe_quietly

log = logging.getLogger(__name__)



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
        default="runner",
        description="'runner' (announced), 'position' (seen by a heartbeat) or 'partitions' "
        "(partitioned workers' progress, seen by the API; counts are then 0: not known).",
    )
    partition: str | None = Field(
        default=None,
        description="Set by a partitioned worker's announcement (`p1-of-3`): `position` is then "
        "that partition's own. Such announcements only wake the API's watcher.",
    )
    partitions: dict[str, int] | None = Field(
        default=None,
        description="A partitioned read model: each partition's committed position; `position` "
        "is then the sequence up to which every partition has applied everything.",
    )
    alert_counts: dict[str, int] | None = Field(
        default=None,
        description="Set by the alert process (`projection` = `alerts`, `position` = SEND_ALERTS' "
        "last sequence): alerts open (sent and not withdrawn) per owning organisation.",
    )
    alerts_withdrawn: dict[str, int] | None = Field(
        default=None,
        description="Set by the alert process with `alert_counts`: alerts withdrawn so far per "
        "owning organisation.",
    )


def change_of(
    projection: str, summary: Summary, previous: int, position: int,
    committed_at: datetime | None = None,
) -> ProjectionChange:
    """The announcement of a committed batch (`applying.summarise`). Pure."""
    return ProjectionChange(
        projection=projection, position=position, previous_position=previous,
        events=summary.events, people=summary.people, months=list(summary.months),
        source_orgs=list(summary.source_orgs), committed_at=committed_at or datetime.now(UTC),
    )


class ChangeAnnouncer:
    """The runner's `on_commit` hook: publishes a `ProjectionChange` after each commit.

    A failed announcement is logged, never raised: the batch is committed and must be acked;
    dashboards catch up on their next heartbeat.
    """

    def __init__(self, nc: Client, projection: str, partition: Partition | None = None) -> None:
        """With `partition`, the announcement names it: the API then re-reads the progress."""
        self._nc = nc
        self.projection = projection
        self.partition = partition
        self.subject = projection_changes(projection)

    async def __call__(self, summary: Summary, previous: int, position: int) -> None:
        change = change_of(self.projection, summary, previous, position)
        if self.partition is not None:
            change = change.model_copy(update={"partition": self.partition.name})
        try:
            await self._nc.publish(self.subject, change.model_dump_json().encode())
        except (nats.errors.Error, OSError) as exc:
            log.warning("could not announce %s at %d: %s", self.subject, position, exc)


ReadPositions = Callable[[], Awaitable[dict[str, int]]]
"""The applied position of every projection the API serves, by projection name."""

ReadProgress = Callable[[], Awaitable[Progress]]
"""How far one read model has got (`projections.reading.partitions.ReadModelProgress`)."""


def progress_change(projection: str, before: Progress | None, now: Progress) -> ProjectionChange:
    """Pure: what a partitioned read model's progress from `before` to `now` announces."""
    return ProjectionChange(
        projection=projection, position=now.position,
        previous_position=before.position if before else 0, events=0, people=0, months=[],
        source_orgs=[], committed_at=datetime.now(UTC), source="partitions",
        partitions=now.committed,
    )


class LiveFeed:
    """One NATS subscription per projection per API process, fanned out to every listener."""

    def __init__(
        self, projections: Sequence[str] = ("dataset",), *, nc: Client | None = None,
        nats_url: str | None = None, connect: Callable[[str], Awaitable[Client]] | None = None,
        heartbeat: float = 15.0, poll: float = 1.0,
    ) -> None:
        self.projections = tuple(projections)
        self.heartbeat = heartbeat
        """Seconds of quiet before a stream checks the positions itself (and sends a comment)."""
        self.poll = poll
        """Seconds between two readings of a followed read model's progress (partitioned)."""
        self._nc, self._url, self._connect = nc, nats_url, connect
        self._owns_connection = nc is None
        self._listeners: set[asyncio.Queue[ProjectionChange]] = set()
        self._subscriptions: list[Any] = []
        self._lock = asyncio.Lock()
        self._progress: dict[str, ReadProgress] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def follow(self, projection: str, progress: ReadProgress) -> None:
        """Watch `projection`'s progress while anyone listens: the partitioned workers' changes."""
        self._progress[projection] = progress

    async def progress(self) -> dict[str, Progress]:
        """Every followed read model's progress, read now."""
        return {name: await read() for name, read in self._progress.items()}

    async def jetstream(self) -> JetStreamContext | None:
        """JetStream over the feed's connection (made if need be); None without the bus."""
        await self._ensure_subscribed()
        if self._nc is None or not self._nc.is_connected:
            return None
        return self._nc.jetstream()

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
        if change.partition is not None:
            self._wake.set()  # one partition's position: the watcher reads them all
            return
        self._broadcast(change)

    def _broadcast(self, change: ProjectionChange) -> None:
        for queue in list(self._listeners):
            queue.put_nowait(change)

    async def _watch(self) -> None:
        """While anyone listens: each followed read model's progress, every `poll` seconds or
        when a worker rings; a partitioned one's is broadcast whenever it moved (listeners
        drop what they have already sent)."""
        seen: dict[str, Progress] = {}
        while self._listeners:
            self._wake.clear()
            for name, read in self._progress.items():
                try:
                    now = await read()
                except Exception as exc:  # noqa: BLE001 - a store or bus hiccup: try next poll
                    log.warning("could not read the progress of %s: %s", name, exc)
                    continue
                if now.partitions and now != seen.get(name):
                    self._broadcast(progress_change(name, seen.get(name), now))
                seen[name] = now
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except TimeoutError:
                pass

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[ProjectionChange]]:
        """A queue of changes, subscribed (and confirmed by the server) before it is yielded."""
        queue: asyncio.Queue[ProjectionChange] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            await self._ensure_subscribed()
            if self._progress and (self._watcher is None or self._watcher.done()):
                self._watcher = asyncio.create_task(self._watch())
            yield queue
        finally:
            self._listeners.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        for subscription in self._subscriptions:
            await unsubscribe_quietly(subscription)
        self._subscriptions = []
        if self._owns_connection and self._nc is not None:
            await self._nc.close()
            self._nc = None


HEARTBEAT = ServerSentEvent(comment="heartbeat")
"""What a quiet stream sends each `heartbeat` when no position moved: a comment, which every
Server-Sent Events parser skips, that keeps proxies from closing an idle connection."""


def sse_event(event: str, data: Any, event_id: int | None = None) -> ServerSentEvent:
    """One Server-Sent Event: JSON data on one line, the stream position as its id."""
    return JSONServerSentEvent(data, event=event, id=None if event_id is None else str(event_id))


Snapshot = Callable[[], Awaitable[tuple[dict[str, int], Any]]]
"""Reads (positions by projection, figures) — the figures at or after those positions."""


async def change_stream(
    feed: LiveFeed, snapshot: Snapshot, positions: ReadPositions,
) -> AsyncIterator[ServerSentEvent]:
    """The snapshot first, then every change past the snapshot's positions, in order.

    A partitioned read model's progress is read before the figures (so they hold at least
    that much), and its changes are sent whenever any partition moved past what was sent."""
    async with feed.listen() as queue:
        progress = await feed.progress()
        sent, figures = await snapshot()
        parts: dict[str, dict[str, int]] = {}
        for name, now in progress.items():
            if now.partitions:
                sent[name] = max(sent.get(name, 0), now.position)
                parts[name] = now.committed
        primary = feed.projections[0]
        opening: dict[str, Any] = {"position": sent.get(primary, 0), "positions": sent,
                                   "figures": figures}
        if parts:
            opening["partitions"] = parts
        yield sse_event("snapshot", opening, sent.get(primary))
        while True:
            try:
                changes = [await asyncio.wait_for(queue.get(), feed.heartbeat)]
            except TimeoutError:
                changes = _moved(feed.projections, sent, await positions())
                if not changes:
                    yield HEARTBEAT
                    continue
            for change in changes:
                news = _news(change, sent, parts)
                if news is not None:
                    yield sse_event("change", news.model_dump(mode="json"), news.position)


def live_response(feed: LiveFeed, snapshot: Snapshot, positions: ReadPositions,
                  ) -> EventSourceResponse:
    """`change_stream` as a `text/event-stream` response (sse-starlette frames it, stops it when
    the client goes or the server shuts down). Its own pings are off: `HEARTBEAT` is ours."""
    return EventSourceResponse(change_stream(feed, snapshot, positions), ping=0)


def _news(change: ProjectionChange, sent: dict[str, int], parts: dict[str, dict[str, int]],
          ) -> ProjectionChange | None:
    """`change` as this listener should see it, recorded as sent; None if it says nothing new."""
    name, before = change.projection, sent.get(change.projection, 0)
    if change.partitions is None:
        if change.position <= before:
            return None
        sent[name] = change.position
        return change
    known = parts.setdefault(name, {})
    if change.position <= before and all(
        seq <= known.get(partition, 0) for partition, seq in change.partitions.items()
    ):
        return None
    sent[name] = max(before, change.position)
    for partition, seq in change.partitions.items():
        known[partition] = max(known.get(partition, 0), seq)
    return change.model_copy(update={"position": sent[name], "previous_position": before,
                                     "partitions": dict(known)})


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
