"""One organisation's service process, the same for every kind: store, relay, command endpoint.

A kind supplies a `ServiceDefinition` (its Application class, translate function and command
catalogue); this module opens the store (`services.store`), runs the relay in the background
(`services.relay`) and answers partner commands over NATS request-reply with FastStream on
`send.cmd.<org>.<command>` and `send.cmd.<org>.import`. Handlers are thin: decode, call one
`Ingest` method in a worker thread (one at a time: the store serialises writes anyway), reply,
poke the relay.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from faststream.nats import NatsBroker, NatsMessage
from nats.aio.client import Client

from contracts.subjects import COMMAND_ROOT, org_commands
from contracts.topology import Organisation, OrgKind
from services.application import OrganisationApplication
from services.bus.connection import broker_credentials, connect_bus, server_urls
from services.config import Settings
from services.health import MonitoringServer, metrics_port, start_monitoring, stop_monitoring
from services.ingest import IMPORT_COMMAND, CommandCatalogue, Ingest
from services.metrics import CountedRelay, ServiceMetrics
from services.relay import Relay, Translate
from services.store import StoreThreads, store_env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes an LA, ICB or provider service different: nothing else is per kind."""

    kind: OrgKind
    application: Callable[[Organisation, dict[str, str]], OrganisationApplication]
    translator: Callable[[Any, bytes], Translate]
    catalogue: CommandCatalogue


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
        self.store_threads = StoreThreads(f"store-{org.code}")
        self.poll_interval, self.batch_size = poll_interval, batch_size
        self.broker = NatsBroker(
            server_urls(self.nats_url), name=f"sendx-{org.code}-commands", log_level=logging.DEBUG,
            **broker_credentials(),
        )
        self.broker.subscriber(org_commands(org.code), queue=f"sendx-{org.code}")(self._on_command)
        self._lock = asyncio.Lock()
        self.relay: Relay | None = None
        self.relay_task: asyncio.Task[None] | None = None
        self._nc: Client | None = None
        self.metrics = ServiceMetrics(org.code)
        self.metrics_port = metrics_port
        """`/healthz`, `/readyz`, `/metrics` port (None: `$SENDX_METRICS_PORT`; 0: off)."""
        self.monitoring: MonitoringServer | None = None

    async def _on_command(self, msg: NatsMessage) -> bytes:
        subject: str = msg.raw_message.subject
        name = subject.removeprefix(f"{COMMAND_ROOT}.{self.org.code}.")
        try:
            answer = await self.handle(name, msg.body)
        except Exception as exc:  # a bug must still answer, never leave the partner to time out
            log.exception("command %s failed", name)
            answer = {
                "ok": False,
                "error": f"{name}: internal error in the {self.org.code} service: {exc}",
            }
        self.metrics.count_commands(answer)
        return reply(answer)

    async def handle(self, name: str, data: bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(data) if data else {}
        except orjson.JSONDecodeError as exc:
            return {"ok": False, "error": f"{name}: the body is not valid JSON: {exc}"}
        if not isinstance(body, dict):
            return {"ok": False, "error": f"{name}: the body must be a JSON object"}
        async with self._lock:
            if name == IMPORT_COMMAND:
                answer = await self.store_threads(self.ingest.import_rows, body)
            else:
                answer = await self.store_threads(self.ingest.command, name, body)
        if self.relay is not None:
            self.relay.poke()
        return answer

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
        )
        self.relay_task = asyncio.create_task(self.relay.run(), name=f"relay-{self.org.code}")
        await self.broker.start()
        # the server has registered the command subscription once a PING round-trip returns:
        # only then is the service "started" (a partner's first command must not find no one)
        await self.broker.connection.flush()
        monitor = self.metrics.monitor(
            self.app, lambda: self.relay, lambda: self._nc, lambda: self.relay_task,
            self.broker.ping,
            self.store_threads,
        )
        self.monitoring = await start_monitoring(monitor, metrics_port(self.metrics_port))

    async def stop(self) -> None:
        await stop_monitoring(self.monitoring)
        await self.broker.stop()
        if self.relay_task is not None:
            self.relay_task.cancel()
            await asyncio.gather(self.relay_task, return_exceptions=True)
        if self._nc is not None:
            # close, not drain: the relay is stopped, and whatever it published without an ack
            # is republished on restart (the stream deduplicates by event id)
            await self._nc.close()
        if await self.store_threads.drain():  # no thread may be inside the store we close
            self.app.factory.close()
        else:
            log.warning("%s: a store call outlived shutdown; store left to process exit",
                           self.org.code)

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
