"""What each process counts, each on a registry of its own, and what makes it ready.

A registry per process object, not prometheus-client's global one: tests run several services
and projectors in one interpreter, and the global registry refuses a second
`sendx_commands_total`. Each `Monitor` built here owns a `CollectorRegistry` (with the process
collectors) that its process's `/metrics` serves.

What the running objects already keep (a runner's applied count, position and dead letters by
reason) is read at scrape time by a collector rather than counted twice; what needs I/O (relay
lag from the store, the stream's last sequence from JetStream) is refreshed by the async
`refresh()` that `/metrics` awaits, so a scrape sees current values and the loop never blocks.

Service: `sendx_commands_total{org,outcome}` (accepted, duplicate, rejected; an import counts
rows), `sendx_relay_published_events_total{org}`, `sendx_relay_lag_notifications{org}` (stored
but not published: not yet handled, plus quarantined), `sendx_relay_quarantined_events{org}`.
Projector: `sendx_projection_applied_events_total{projection}`,
`sendx_projection_position{projection}`, `sendx_consumer_lag{projection}` (stream last sequence
minus committed position), `sendx_dead_letters_total{projection,reason}`,
`sendx_stream_last_sequence`. API: position, lag and last sequence of the read models it serves.
Every process: `sendx_nats_connected` (not the API) and the process collectors. The operator's
view of them, with alert rules: deploy/DEPLOYMENT.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import nats.errors
from eventsourcing.application import Application
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from runtime.bus.streams import EVENTS_STREAM
from runtime.health import Monitor, answers, nats_connected, task_running
from runtime.store import RunBlocking

OUTCOMES = ("accepted", "duplicate", "rejected")


def process_registry() -> CollectorRegistry:
    """A fresh registry with the process's CPU, memory, file descriptors and Python version."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def command_outcomes(answer: Mapping[str, Any]) -> dict[str, int]:
    """How many commands one reply accepted, found duplicate or rejected (an import: its rows)."""
    if not answer.get("ok"):
        return {"rejected": 1}
    if "rows" in answer:
        duplicates = int(answer.get("duplicates", 0))
        return {
            "accepted": int(answer.get("accepted", 0)) - duplicates,
            "duplicate": duplicates,
            "rejected": int(answer.get("rejected", 0)),
        }
    return {"duplicate": 1} if answer.get("duplicate") else {"accepted": 1}


class _Connection(Collector):
    def __init__(self, nc: Callable[[], Client | None]) -> None:
        self._nc = nc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        nc = self._nc()
        yield GaugeMetricFamily(
            "sendx_nats_connected",
            "1 while this process's NATS connection is up.",
            value=1 if nc is not None and nc.is_connected else 0,
        )


class Published(Protocol):
    """What `ServiceMetrics.monitor` reads from the relay: how far it has published."""

    @property
    def position(self) -> Any: ...


class ServiceMetrics:
    """An organisation service's counters; `monitor()` adds its relay lag and checks."""

    def __init__(self, org_code: str) -> None:
        self.org = org_code
        self.registry = process_registry()
        self.commands = Counter(
            "sendx_commands", "Partner commands answered, by outcome (an import counts its rows).",
            ["org", "outcome"], registry=self.registry,
        )
        self.published = Counter(
            "sendx_relay_published_events",
            "Contract events the relay published and JetStream acknowledged.",
            ["org"], registry=self.registry,
        )
        self.relay_lag = Gauge(
            "sendx_relay_lag_notifications",
            "Notifications stored by the service and not published: not handled yet, plus "
            "quarantined events.",
            ["org"], registry=self.registry,
        )
        self.quarantined = Gauge(
            "sendx_relay_quarantined_events",
            "Stored events the relay could not publish, waiting in quarantine "
            "(sendx quarantine list).",
            ["org"], registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.commands.labels(org_code, outcome)
        self.published.labels(org_code)
        self.quarantined.labels(org_code)
        self._nc: Callable[[], Client | None] = lambda: None
        self.registry.register(_Connection(lambda: self._nc()))

    def count_commands(self, answer: Mapping[str, Any]) -> None:
        for outcome, count in command_outcomes(answer).items():
            if count:
                self.commands.labels(self.org, outcome).inc(count)

    def monitor(
        self,
        app: Application,
        relay: Callable[[], Published | None],
        nc: Callable[[], Client | None],
        relay_task: Callable[[], asyncio.Task[None] | None],
        command_endpoint: Callable[[float], Awaitable[bool]],
        run_blocking: RunBlocking = asyncio.to_thread,
    ) -> Monitor:
        """Ready when the relay's and the command endpoint's NATS connections are up, the store
        answers, the relay runs and nothing is quarantined. `command_endpoint` pings the
        endpoint's FastStream brokers (`broker.ping`)."""

        async def commands() -> str | None:
            if await command_endpoint(1.0):
                return None
            return "command endpoint not connected to NATS (reconnecting)"

        async def refresh() -> None:
            current = relay()
            if current is None:
                return
            last = await run_blocking(app.recorder.max_notification_id)
            quarantined = await run_blocking(current.quarantine.open_count)
            lag = max((last or 0) - current.position.notification_id, 0) + quarantined
            self.relay_lag.labels(self.org).set(lag)
            self.quarantined.labels(self.org).set(quarantined)

        async def quarantine() -> str | None:
            current = relay()
            if current is None:
                return None  # the relay check says it has not started
            count = await run_blocking(current.quarantine.open_count)
            first = await run_blocking(current.quarantine.oldest_open) if count else None
            if first is None:
                return None
            return (
                f"{count} stored event(s) quarantined, not published (first: notification "
                f"{first.notification_id}, {first.stored_type}: {first.reason}); see "
                f"`sendx quarantine list --org {self.org}`"
            )

        self._nc = nc  # a restarted service reconnects: the gauge follows the current connection
        return Monitor(
            self.registry,
            checks={
                "nats": _when_connected(nc),
                "commands": commands,
                "store": answers("event store", app.recorder.max_notification_id, run_blocking),
                "relay": task_running("relay", relay_task),
                "quarantine": quarantine,
            },
            refresh=refresh,
        )


def _when_connected(nc: Callable[[], Client | None]) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        client = nc()
        return "not connected yet" if client is None else await nats_connected(client)()

    return check


class Runner(Protocol):
    """What the projector's collector reads from each
    `projections.reading.runner.ProjectionRunner`."""

    @property
    def durable(self) -> str: ...
    @property
    def position(self) -> int: ...
    applied: int
    dead_letter_reasons: Mapping[str, int]


class _StreamTail:
    """SEND_EVENTS' last sequence, as last read by `refresh` (None until then)."""

    last: int | None = None


class _Projections(Collector):
    def __init__(self, runners: Mapping[str, Runner], tail: _StreamTail) -> None:
        self._runners, self._tail = runners, tail

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        applied = CounterMetricFamily(
            "sendx_projection_applied_events", "Events applied to the read model by this process.",
            labels=["projection"],
        )
        dead = CounterMetricFamily(
            "sendx_dead_letters", "Messages this process sent to SEND_DEADLETTER, by reason.",
            labels=["projection", "reason"],
        )
        positions, lags = _position_families()
        for name, runner in self._runners.items():
            applied.add_metric([name], runner.applied)
            positions.add_metric([name], runner.position)
            if self._tail.last is not None:
                lags.add_metric([name], max(self._tail.last - runner.position, 0))
            for reason, count in runner.dead_letter_reasons.items():
                dead.add_metric([name, reason], count)
        yield from (applied, dead, positions, lags, *_tail_family(self._tail))


def _position_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "sendx_projection_position",
            "Highest SEND_EVENTS sequence the read model has committed.", labels=["projection"],
        ),
        GaugeMetricFamily(
            "sendx_consumer_lag",
            "SEND_EVENTS' last sequence minus the read model's committed position.",
            labels=["projection"],
        ),
    )


def _tail_family(tail: _StreamTail) -> list[GaugeMetricFamily]:
    if tail.last is None:
        return []
    return [GaugeMetricFamily(
        "sendx_stream_last_sequence", "SEND_EVENTS' last sequence at the last scrape.",
        value=tail.last,
    )]


async def _read_tail(nc: Client, tail: _StreamTail) -> None:
    try:
        info = await asyncio.wait_for(nc.jetstream().stream_info(EVENTS_STREAM), 2)
    except (TimeoutError, OSError, nats.errors.Error):
        tail.last = None  # unknown while the bus is away: no lag rather than a stale one
        return
    tail.last = int(info.state.last_seq)


def projector_monitor(
    nc: Client, runners: Mapping[str, Runner], stores: Mapping[str, Any]
) -> Monitor:
    """Ready when connected, every store answers and every durable consumer exists."""
    registry, tail = process_registry(), _StreamTail()
    registry.register(_Projections(runners, tail))
    registry.register(_Connection(lambda: nc))
    checks = {"nats": nats_connected(nc)}
    for name, runner in runners.items():
        checks[f"store {name}"] = answers(f"read model {name}", stores[name].position)
        checks[f"consumer {name}"] = _consumer_exists(nc, runner.durable)

    async def refresh() -> None:
        await _read_tail(nc, tail)

    return Monitor(registry, checks=checks, refresh=refresh)


def _consumer_exists(nc: Client, durable: str) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        try:
            await nc.jetstream().consumer_info(EVENTS_STREAM, durable)
        except NotFoundError:
            return f"consumer {durable} not bound yet"
        except (OSError, nats.errors.Error) as exc:
            return f"consumer {durable}: {exc or type(exc).__name__}"
        return None

    return check


class _ServedModels(Collector):
    def __init__(self, positions: dict[str, int], tail: _StreamTail) -> None:
        self._positions, self._tail = positions, tail

    def collect(self) -> Iterable[GaugeMetricFamily]:
        positions, lags = _position_families()
        for name, position in self._positions.items():
            positions.add_metric([name], position)
            if self._tail.last is not None:
                lags.add_metric([name], max(self._tail.last - position, 0))
        yield from (positions, lags, *_tail_family(self._tail))


def api_monitor(
    stores: Mapping[str, Any], stream_last_sequence: Callable[[], Awaitable[int | None]]
) -> Monitor:
    """The API reads what the projector writes: ready when its stores and the bus answer."""
    registry, tail, positions = process_registry(), _StreamTail(), {}
    registry.register(_ServedModels(positions, tail))

    async def refresh() -> None:
        for name, store in stores.items():
            positions[name] = await asyncio.to_thread(store.position)
        tail.last = await stream_last_sequence()

    async def bus() -> str | None:
        if await stream_last_sequence() is None:
            return f"cannot read {EVENTS_STREAM} (the lag in /api/position is unknown)"
        return None

    checks = {
        f"store {name}": answers(f"read model {name}", store.position)
        for name, store in stores.items()
    }
    return Monitor(registry, checks={**checks, "nats": bus}, refresh=refresh)
