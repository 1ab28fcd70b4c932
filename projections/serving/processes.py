"""Running the projections and the query API as processes: apart, or all in one (`serve`).

`sendx projector` runs every projection in the catalogue (one runner each, one connection), or
only those named by `--only`; `sendx run` starts one `sendx projector --only <name>` process per
projection, because a fold is CPU-bound Python and runners in one process share one GIL; and,
where there are cores enough (`SENDX_STORE_WORKER`, `projections.reading.store_worker.wanted`), each
projector applies its batches in a store worker process, so that reading the bus and folding
use two cores. Each such process announces its own commits
(`projections.<name>.changed`, the live feed's doorbell), so `sendx api` (one process serving
the dataset and the tracker) learns of both. `serve` runs everything on one event loop (stores
in threads) for a single-process deployment. Each runner commits its position with its read
model and stops cleanly on SIGINT/SIGTERM.

Where the read models live (`store_location`): SQLite files `$SENDX_DATA_DIR/projection-<name>
.sqlite` by default; with `SENDX_STORE=postgres`, schema `sendx_<name>` of the database named by
`SENDX_READ_MODEL_DSN`, or else by the POSTGRES_HOST/PORT/USER/PASSWORD/DBNAME variables the
event stores use.

Scaled out (`sendx projector --partition i --partitions n`, `projections.reading.partitions`): n
such processes share the same stores, each applying the people of one partition of SEND_EVENTS_P<n>
(created on start if missing) and committing its own position.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from urllib.parse import quote

import nats
import uvicorn
from nats.aio.client import Client

from projections.access.policy import access_control_for
from projections.catalogue import CATALOGUE
from projections.dataset.projection import DATASET
from projections.reading.partitions import Partition
from projections.reading.projection import Projection, ProjectionStore
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.reading.store_worker import StoreWorker
from projections.reading.store_worker import wanted as store_worker_wanted
from projections.serving.api import create_app, default_host, default_port
from projections.serving.deliveries import CourierLogin
from projections.serving.live import ChangeAnnouncer, LiveFeed
from projections.serving.monitoring import install_monitoring
from projections.tracker.store import TRACKER
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM, ensure_partitioned_stream
from runtime.health import Monitor, metrics_port, start_monitoring, stop_monitoring
from runtime.metrics import api_monitor, projector_monitor
from runtime.settings import Settings
from runtime.settings import settings as current_settings

log = logging.getLogger(__name__)

ALERTS = "alerts"
"""The alert process rings the live feed too (`projections.alerts.runner`): its changes carry
the alert counts per organisation."""

Location = Path | str
"""A SQLite file path or a PostgreSQL DSN."""


def read_model_dsn(config: Settings | None = None) -> str:
    """`SENDX_READ_MODEL_DSN`, or a DSN built from the POSTGRES_* variables."""
    config = config or current_settings()
    if config.read_model_dsn:
        return config.read_model_dsn
    if not config.postgres_dbname:
        raise ValueError(
            "SENDX_STORE=postgres needs SENDX_READ_MODEL_DSN (postgresql://user:password@host"
            "/db) or POSTGRES_DBNAME (with POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, "
            "POSTGRES_PASSWORD) for the read models"
        )
    user = quote(config.postgres_user, safe="")
    password = quote(config.postgres_password, safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = f"{config.postgres_host}:{config.postgres_port}"
    return f"postgresql://{credentials}{host}/{quote(config.postgres_dbname, safe='')}"


def store_location(settings: Settings, projection: Projection) -> Location:
    if settings.store == "postgres":
        return read_model_dsn(settings)
    return settings.sqlite_path(f"projection-{projection.name}")


def default_store_path(settings: Settings) -> Location:
    """Where the dataset lives (kept for callers that only know the dataset)."""
    return store_location(settings, DATASET)


def open_store(projection: Projection, location: Location) -> ProjectionStore:
    return projection.open_store(location, schema=f"sendx_{projection.name}")


class StreamTail:
    """SEND_EVENTS' last sequence for `/api/position`; None while the bus cannot be reached."""

    def __init__(self, nats_url: str | None = None, nc: Client | None = None) -> None:
        self._url = nats_url
        self._nc = nc

    async def __call__(self) -> int | None:
        try:
            if self._nc is None and self._url is not None:
                self._nc = await asyncio.wait_for(
                    connect_bus(self._url, name="sendx-api"), timeout=2
                )
            if self._nc is None:
                return None
            info = await self._nc.jetstream().stream_info(EVENTS_STREAM)
            return int(info.state.last_seq)
        except (TimeoutError, OSError, nats.errors.Error):
            return None


def catalogue_locations(settings: Settings) -> dict[str, Location]:
    return {projection.name: store_location(settings, projection) for projection in CATALOGUE}


async def run_projector(
    nats_url: str,
    locations: Location | Mapping[str, Location],
    settings: ConsumerSettings | None = None,
    monitoring_port: int | None = None,
    partition: Partition | None = None,
) -> None:
    """A runner per projection until SIGINT/SIGTERM. `locations` maps projection names to their
    stores; a single path or DSN runs the dataset alone (as the fault tests do).
    `monitoring_port`: /healthz, /readyz, /metrics (None: `$SENDX_METRICS_PORT`; 0: off).
    `partition`: apply only that partition's people; its announcements name the partition,
    which makes the API re-read every partition's progress (`projections.serving.live`)."""
    if not isinstance(locations, Mapping):
        locations = {DATASET.name: locations}
    chosen = [p for p in CATALOGUE if p.name in locations]
    nc = await connect_bus(nats_url, name="sendx-projector")
    if partition is not None:
        await ensure_partitioned_stream(nc.jetstream(), partition.count)
    stores: list[ProjectionStore | StoreWorker] = [
        StoreWorker(p.name, partial(open_store, p, locations[p.name]), partition)
        if store_worker_wanted() else open_store(p, locations[p.name])
        for p in chosen
    ]
    await asyncio.gather(*(
        asyncio.to_thread(s.start) for s in stores if isinstance(s, StoreWorker)
    ))
    runners = [
        ProjectionRunner(
            nc, p.name, s, settings, partition=partition,
            on_commit=ChangeAnnouncer(nc, p.name, partition),
        )
        for p, s in zip(chosen, stores, strict=True)
    ]
    names = [p.name for p in chosen]
    monitor = projector_monitor(nc, dict(zip(names, runners, strict=True)),
                                dict(zip(names, stores, strict=True)))
    monitoring = await start_monitoring(monitor, metrics_port(monitoring_port))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [r.stop() for r in runners])
    try:
        await asyncio.gather(*(r.run() for r in runners))
    finally:
        await stop_monitoring(monitoring)
        await asyncio.gather(*(asyncio.to_thread(s.close) for s in stores))
        await nc.drain()


def run_api(
    locations: Mapping[str, Location], nats_url: str | None, port: int | None = None
) -> None:
    """The query API until Ctrl-C, reading the stores the projector writes.

    `/metrics` on the API port answers operator tokens only; `$SENDX_METRICS_PORT` (0 = off)
    also serves the probes and `/metrics` on a monitoring port of their own, as the services
    and projectors do (`projections.serving.monitoring`)."""
    dataset = open_store(DATASET, locations[DATASET.name])
    tracker = open_store(TRACKER, locations[TRACKER.name])
    live = LiveFeed((DATASET.name, TRACKER.name, ALERTS), nats_url=nats_url,
                    connect=lambda url: connect_bus(url, name="sendx-api-live"))
    tail = StreamTail(nats_url)
    courier = CourierLogin.configured(current_settings(), nats_url)
    app = create_app(dataset, tracker=tracker, stream_last_sequence=tail,
                     access=access_control_for(current_settings().data_dir, dataset), live=live,
                     deliveries_bus=courier)
    monitor = api_monitor({DATASET.name: dataset, TRACKER.name: tracker}, tail)
    install_monitoring(app, monitor)
    # uvicorn re-raises SIGTERM after its graceful shutdown: make that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = uvicorn.Config(app, host=default_host(), port=port or default_port(),
                            log_level="info")
    asyncio.run(_serve_with_monitoring(uvicorn.Server(config), monitor))


async def _serve_with_monitoring(server: uvicorn.Server, monitor: Monitor) -> None:
    monitoring = await start_monitoring(monitor, metrics_port())
    try:
        await server.serve()
    finally:
        await stop_monitoring(monitoring)


async def serve(
    settings: Settings,
    *,
    locations: Mapping[str, Location] | None = None,
    port: int | None = None,
) -> None:
    """Every runner and the API in one process: stops all on SIGINT/SIGTERM."""
    locations = locations or catalogue_locations(settings)
    nc = await connect_bus(settings.nats_url, name="sendx-projector")
    stores = {p.name: open_store(p, locations[p.name]) for p in CATALOGUE}
    runners = [ProjectionRunner(nc, name, store, on_commit=ChangeAnnouncer(nc, name))
               for name, store in stores.items()]
    app = create_app(
        stores[DATASET.name], tracker=stores[TRACKER.name], stream_last_sequence=StreamTail(nc=nc),
        access=access_control_for(settings.data_dir, stores[DATASET.name]),
        live=LiveFeed((DATASET.name, TRACKER.name, ALERTS), nc=nc),
        deliveries_bus=CourierLogin.configured(settings),
    )
    install_monitoring(app, projector_monitor(nc, dict(zip(stores, runners, strict=True)), stores))
    server = uvicorn.Server(uvicorn.Config(app, host=default_host(), port=port or default_port()))
    # uvicorn handles the signals while it serves, then re-raises them to these handlers.
    loop = asyncio.get_running_loop()

    def stop_all(*_: object) -> None:
        for runner in runners:
            loop.call_soon_threadsafe(runner.stop)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_all)
    tasks = [asyncio.create_task(r.run()) for r in runners]
    for task in tasks:
        task.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.gather(*tasks)
        for store in stores.values():
            store.close()
        await nc.drain()
