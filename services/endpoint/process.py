"""One organisation's service process, the same for every kind: store, relay, command endpoint.

A kind supplies a `ServiceDefinition` (its Application class, translate function and command
catalogue); this module opens the store (`runtime.store`), runs the relay in the background
(`services.sharing.relay`) and answers partner commands over NATS request-reply on
`send.cmd.<org>.<command>` and `send.cmd.<org>.import` with the FastStream typed subscribers the
kind's `CommandApi` declares (`services.endpoint.subscribers.declare_command_api`, the same
declaration the AsyncAPI document is generated from). Handlers are thin: decode, call one
`Ingest` method in a worker thread (one at a time: the store serialises writes anyway), reply,
poke the relay.

Stopping is bounded step by step (`OrganisationService.stop`, helpers in `runtime.stopping`): a
step that overruns is logged, naming what it was waiting on, and the stop goes on without it,
so a stop always ends.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from nats.aio.client import Client

from contracts.topology import Organisation, OrgKind
from runtime.bus.connection import connect_bus
from runtime.health import MonitoringServer, metrics_port, start_monitoring, stop_monitoring
from runtime.metrics import ServiceMetrics
from runtime.settings import Settings
from runtime.stopping import awaiting, cancel_within, finish_within, registered
from runtime.store import StoreThreads, store_env
from services.domain.application import OrganisationApplication
from services.endpoint.command_api import CommandApi, Desk, Route
from services.endpoint.ingest import CommandCatalogue, Ingest
from services.endpoint.subscribers import (
    command_broker,
    declare_command_api,
    declare_unknown_names,
    drain,
)
from services.sharing.counted_relay import CountedRelay
from services.sharing.quarantine import QuarantineDesk, quarantine_for
from services.sharing.relay import Relay, Translate

log = logging.getLogger(__name__)

STOP_GRACE = 10.0
"""Seconds a stopping service gives the commands it is deciding to finish and be answered (and
then its store threads to end) before it stops without them."""
STOP_STEP_TIMEOUT = 5.0
"""Seconds any other step of a stop (monitoring server, command endpoint, relay, connection)
may take; each normally takes milliseconds."""


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes an LA, ICB or provider service different: nothing else is per kind."""

    kind: OrgKind
    application: Callable[[Organisation, dict[str, str]], OrganisationApplication]
    translator: Callable[[Any, bytes], Translate]
    catalogue: CommandCatalogue

    @cached_property
    def api(self) -> CommandApi:
        """The subjects its service answers, as the service dispatches and AsyncAPI shows them."""
        return CommandApi(self.kind.value, self.catalogue)


SERVICE_DEFINITIONS: dict[OrgKind, str] = {
    OrgKind.LA: "services.la.service:LA_SERVICE",
    OrgKind.ICB: "services.icb.service:ICB_SERVICE",
    OrgKind.PROVIDER: "services.provider.service:PROVIDER_SERVICE",
}


def definition_for(kind: OrgKind) -> ServiceDefinition:
    try:
        module, _, name = SERVICE_DEFINITIONS[kind].partition(":")
    except KeyError:
        known = ", ".join(k.value for k in SERVICE_DEFINITIONS)
        raise LookupError(
            f"no service for organisation kind {kind.value!r} yet (have: {known})"
        ) from None
    return getattr(importlib.import_module(module), name)


def reply(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


class OrganisationService:
    """Open with `async with OrganisationService(...)`, or `start()` / `stop()`."""

    def __init__(
        self,
        definition: ServiceDefinition,
        org: Organisation,
        *,
        settings: Settings | None = None,
        nats_url: str | None = None,
        sqlite_path: Path | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        metrics_port: int | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        if org.kind is not definition.kind:
            raise ValueError(
                f"organisation {org.code} is of kind {org.kind.value}, not {definition.kind.value}"
            )
        self.definition, self.org = definition, org
        self.settings = settings or Settings()
        self.nats_url = nats_url or self.settings.nats_url
        self.app = definition.application(
            org, store_env(org, self.settings, sqlite_path=sqlite_path)
        )
        self.ingest = Ingest(self.app, definition.catalogue)
        self.quarantine = quarantine_for(self.app)
        self.desk = QuarantineDesk(self.app, self.quarantine, org.code)
        self.store_threads = StoreThreads(f"store-{org.code}")
        self.poll_interval, self.batch_size = poll_interval, batch_size
        self.broker = command_broker(self.nats_url, org.code, "commands")
        self.unknown_names_broker = command_broker(self.nats_url, org.code, "unknown-commands")
        """The connection answering names no route has (`declare_unknown_names`)."""
        self._typed = declare_command_api(self.broker, definition.api, org.code, self.answer)
        self._unknown_names = declare_unknown_names(
            self.unknown_names_broker, definition.api, org.code, self.answer
        )
        self._lock = asyncio.Lock()
        self.relay: Relay | None = None
        self.relay_task: asyncio.Task[None] | None = None
        self._nc: Client | None = None
        self.metrics = ServiceMetrics(org.code)
        self.metrics_port = metrics_port
        """`/healthz`, `/readyz`, `/metrics` port (None: `$SENDX_METRICS_PORT`; 0: off)."""
        self.monitoring: MonitoringServer | None = None
        self.stop_grace = stop_grace
        self._stopping = False
        self._stopped: asyncio.Future[None] | None = None
        self._requests = itertools.count()
        self._in_flight: dict[int, str] = {}
        """The commands being decided in a store thread, by request, named for the stop's log."""

    async def answer(self, route: Route | None, name: str, data: bytes) -> bytes:
        """What every command subscriber calls (`subscribers.declare_command_api`): a reply, never
        a raise."""
        try:
            answer = await self.handle(route, name, data)
        except Exception as exc:  # a bug must still answer, never leave the partner to time out
            log.exception("command %s failed", name)
            answer = {
                "ok": False,
                "error": f"{name}: internal error in the {self.org.code} service: {exc}",
            }
        if route is None or route.partner_facing:  # not an operator's quarantine request
            self.metrics.count_commands(answer)
        return reply(answer)

    async def handle(self, route: Route | None, name: str, data: bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError as exc:
            return {"ok": False, "error": f"{name}: the body is not valid JSON: {exc}"}
        if not isinstance(body, dict):
            return {"ok": False, "error": f"{name}: the body must be a JSON object"}
        if self._stopping:
            return self._stopping_refusal(name)
        if route is None:  # no command of that name: refused naming the known ones, no store
            return self.ingest.command(name, body)
        async with self._lock:
            if self._stopping:  # a stop began while it waited behind another command
                return self._stopping_refusal(name)
            answer = await self.store_threads(
                self._decide, next(self._requests), route.desk, name, body
            )
        if self.relay is not None:
            self.relay.poke()
        return answer

    def _stopping_refusal(self, name: str) -> dict[str, Any]:
        return {
            "ok": False,
            "error": f"{name}: the {self.org.code} service is stopping; nothing was recorded, "
                     f"send it again once the service is back",
        }

    def _decide(self, request: int, desk: Desk, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """In a store thread: named in `_in_flight` for as long as the thread works on it, which
        may outlast its handler (a cancelled handler does not stop the thread)."""
        self._in_flight[request] = _describe(name, body)
        try:
            match desk:
                case Desk.IMPORT:
                    return self.ingest.import_rows(body)
                case Desk.QUARANTINE:
                    return self.desk.answer(name, body)
                case _:
                    return self.ingest.command(name, body)
        finally:
            del self._in_flight[request]

    async def start(self) -> None:
        self._nc = await connect_bus(self.nats_url, name=f"sendx-{self.org.code}-relay")
        translate = self.definition.translator(self.app, self.settings.partnership_key)
        self.relay = CountedRelay(
            self.metrics,
            self.app,
            self.org,
            translate,
            self._nc.jetstream(),
            poll_interval=self.poll_interval,
            batch_size=self.batch_size,
            run_blocking=self.store_threads,
            quarantine=self.quarantine,
        )
        self.relay_task = asyncio.create_task(self.relay.run(), name=f"relay-{self.org.code}")
        # typed subscribers first: a known command reaching the unknown-names subscriber alone
        # would get no answer (before they are up it gets no-responders and is resent)
        for broker in (self.broker, self.unknown_names_broker):
            await broker.start()
            await registered(broker.connection)
        monitor = self.metrics.monitor(
            self.app, lambda: self.relay, lambda: self._nc, lambda: self.relay_task,
            self._endpoint_connected,
            self.store_threads,
        )
        self.monitoring = await start_monitoring(monitor, metrics_port(self.metrics_port))

    async def _endpoint_connected(self, timeout: float) -> bool:
        return await self.broker.ping(timeout) and await self.unknown_names_broker.ping(timeout)

    async def stop(self) -> None:
        """Refuse new commands, give those in flight `stop_grace` seconds to be answered, stop
        the endpoint, the relay and its connection, and close the store once no thread is in it.

        Each step is bounded, so a stop ends within 2 x `stop_grace` + 4 x `STOP_STEP_TIMEOUT`
        even if one hangs; a command still unanswered then gets no reply (its partner's request
        times out, and resending is safe: imports are idempotent by record id)."""
        if self._stopped is None:  # a second stop waits for the first
            self._stopping = True
            self._stopped = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopped)

    async def _stop(self) -> None:
        org = self.org.code
        await finish_within(org, "the monitoring server", stop_monitoring(self.monitoring),
                            STOP_STEP_TIMEOUT)
        await finish_within(
            org, lambda: f"the commands in flight ({self._still_deciding() or 'none'})",
            self._stop_taking_commands(), self.stop_grace,
        )
        await finish_within(org, "the command endpoint", self.broker.stop(), STOP_STEP_TIMEOUT)
        await finish_within(org, "the unknown-commands endpoint", self.unknown_names_broker.stop(),
                            STOP_STEP_TIMEOUT)
        if self.relay_task is not None and not await cancel_within(
            self.relay_task, STOP_STEP_TIMEOUT
        ):
            log.warning("%s: stop went on after the relay ignored cancellation for %.1fs "
                        "(still in %s)", org, STOP_STEP_TIMEOUT, awaiting(self.relay_task))
        if self._nc is not None:
            # close, not drain: the relay is stopped, and whatever it published without an ack
            # is republished on restart (the stream deduplicates by event id)
            await finish_within(org, "the relay's connection to close", self._nc.close(),
                                STOP_STEP_TIMEOUT)
        if await self.store_threads.drain(self.stop_grace):  # no thread may be in the store
            self.app.factory.close()
        else:
            log.warning("%s: a store call (%s) outlived shutdown by %.1fs; store left to "
                        "process exit", org, self._still_deciding() or "the relay's",
                        self.stop_grace)

    async def _stop_taking_commands(self) -> None:
        """Unsubscribe first (a partner's next command then finds no responder and is resent to
        the service's next start), then answer every command already delivered.

        The unknown-names subscription goes first (its answers need no store, so its drain is
        quick): a known command must never meet it alone, for it would not answer."""
        await drain(self._unknown_names)
        await asyncio.gather(*(drain(s) for s in self._typed))

    def _still_deciding(self) -> str:
        return ", ".join(self._in_flight.values())

    async def __aenter__(self) -> OrganisationService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Until SIGINT/SIGTERM; if the relay stops on a topology violation, so does the process."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        assert self.relay_task is not None
        stop_wait = asyncio.create_task(stopping.wait())
        await asyncio.wait({stop_wait, self.relay_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if self.relay_task.done() and not self.relay_task.cancelled():
            self.relay_task.result()  # re-raise what stopped the relay


def _describe(name: str, body: dict[str, Any]) -> str:
    """`import (3 rows)` or the command's name: what a stuck stop was waiting on."""
    rows = body.get("rows")
    return f"{name} ({len(rows)} rows)" if isinstance(rows, list) else name
