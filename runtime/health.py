"""Liveness, readiness and metrics over HTTP, for every process: `/healthz`, `/readyz`, `/metrics`.

- `/healthz` (liveness) is answered by the process's own event loop: the monitoring server runs
  as a task on that loop, so an answer proves the loop is turning. A wedged loop stops
  answering and the orchestrator restarts the process.
- `/readyz` (readiness) runs the process's named checks (NATS connected, store answering, relay
  or consumer running) concurrently, each within `CHECK_TIMEOUT`: 200 when all pass, otherwise
  503 with every failing check's reason, so an operator reads *why* from the probe itself.
- `/metrics` awaits the process's `refresh()` (gauges that need the store or the bus) and then
  serves the process's own registry with prometheus-client's ASGI app.

Every process serves these on its own monitoring port, `--metrics-port` / `$SENDX_METRICS_PORT`
(0 = off), bound to `$SENDX_METRICS_HOST` (default loopback; `0.0.0.0` in a container, where
only the cluster reaches it) with an embedded uvicorn on the same loop. The API also answers
`/healthz` and `/readyz` on its own port (`add_monitoring(..., metrics=False)`), and `/metrics`
there only to an operator token (`projections.serving.monitoring`): the API port is the one
readers reach, so process internals are not served to every reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import uvicorn
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from runtime.settings import Settings, settings

CHECK_TIMEOUT = 2.0
PORT_VARIABLE = "SENDX_METRICS_PORT"

Check = Callable[[], Awaitable[str | None]]
"""A readiness check: None when ready, else the reason (one line an operator can act on)."""
Refresh = Callable[[], Awaitable[None]]


async def _nothing_to_refresh() -> None:
    return None


@dataclass
class Monitor:
    """What one process exposes: its registry, what to refresh before a scrape, its checks."""

    registry: CollectorRegistry
    checks: Mapping[str, Check] = field(default_factory=dict)
    refresh: Refresh = _nothing_to_refresh

    async def readiness(self) -> dict[str, str]:
        """The failing checks and why (empty when ready)."""
        names = list(self.checks)
        results = await asyncio.gather(
            *(_bounded(self.checks[name]) for name in names), return_exceptions=True
        )
        failures: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                failures[name] = f"{name}: check failed: {result!r}"
            elif result is not None:
                failures[name] = result
        return failures

    async def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format after `refresh()`, and its content type."""
        await self.refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


async def _bounded(check: Check) -> str | None:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"did not answer within {CHECK_TIMEOUT:g}s"


def nats_connected(nc: Client) -> Check:
    async def check() -> str | None:
        if nc.is_connected:
            return None
        state = "reconnecting" if nc.is_reconnecting else "closed" if nc.is_closed else "down"
        servers = ", ".join(f"{u.hostname}:{u.port}" for u in nc.servers) or "none known"
        return f"NATS connection {state} (servers: {servers})"

    return check


def answers(
    what: str, probe: Callable[[], object],
    run: Callable[[Callable[[], object]], Awaitable[object]] = asyncio.to_thread,
) -> Check:
    """`probe` is a blocking call (a store query): it runs in a worker thread (`run`)."""

    async def check() -> str | None:
        try:
            await run(probe)
        except Exception as exc:
            return f"{what} unreachable: {exc}"
        return None

    return check


def task_running(what: str, task: Callable[[], asyncio.Task[None] | None]) -> Check:
    async def check() -> str | None:
        current = task()
        if current is None:
            return f"{what} not started"
        if current.done():
            error = None if current.cancelled() else current.exception()
            return f"{what} stopped" + (f": {error}" if error else "")
        return None

    return check


class MetricsEndpoint:
    """An ASGI app: refresh, then prometheus-client's own exposition of the registry."""

    def __init__(self, monitor: Monitor) -> None:
        self._monitor = monitor
        self._exposition = make_asgi_app(monitor.registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._monitor.refresh()
        await self._exposition(scope, receive, send)


def add_monitoring(app: Starlette, monitor: Monitor, *, metrics: bool = True) -> Starlette:
    """Add `/readyz` and, with `metrics`, `/metrics` (and `/healthz` unless the app has one)."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        failures = await monitor.readiness()
        if failures:
            reasons = [f"{name}: {reason}" for name, reason in failures.items()]
            return JSONResponse({"ready": False, "reasons": reasons}, status_code=503)
        return JSONResponse({"ready": True, "checks": sorted(monitor.checks)})

    paths = {getattr(route, "path", None) for route in app.router.routes}
    if "/healthz" not in paths:
        app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    if metrics:
        app.add_route("/metrics", MetricsEndpoint(monitor), methods=["GET"],
                      include_in_schema=False)
    return app


def monitoring_app(monitor: Monitor) -> Starlette:
    return add_monitoring(Starlette(routes=[]), monitor)


def metrics_port(flag: int | None = None, config: Settings | None = None) -> int:
    """`--metrics-port` if given, else `$SENDX_METRICS_PORT` (checked there), else 0 (off)."""
    if flag is None:
        return (config or settings()).metrics_port
    if not 0 <= flag <= 65535:
        raise ValueError(f"--metrics-port must be between 0 (off) and 65535, not {flag}")
    return flag


class _EmbeddedServer(uvicorn.Server):
    """uvicorn as one task of a process that owns its signals (SIGTERM stops the service, which
    then stops this server): uvicorn's own handlers would swallow them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


@dataclass
class MonitoringServer:
    """The embedded `/healthz`, `/readyz`, `/metrics` server of a service or the projector."""

    host: str
    port: int
    _server: _EmbeddedServer
    _task: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)


async def start_monitoring(
    monitor: Monitor, port: int, host: str | None = None
) -> MonitoringServer | None:
    """Serve `monitor` on `host:port` from this event loop; None when `port` is 0 (off)."""
    if port == 0:
        return None
    host = host or settings().metrics_host
    sock = _listening_socket(host, port)
    config = uvicorn.Config(
        monitoring_app(monitor), log_level="warning", access_log=False, lifespan="off"
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"monitoring-{port}")
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError(f"the metrics server on {host}:{port} stopped while starting")
    return MonitoringServer(host, port, server, task)


async def stop_monitoring(server: MonitoringServer | None) -> None:
    if server is not None:
        await server.stop()
