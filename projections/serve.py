"""Running the dataset projection and its API as processes: alone, or both in one (`serve`).

`sendx projector` and `sendx api` run one each (as `sendx run` launches them); `serve` runs
both on one event loop for a single-process deployment. Either way the runner commits its
position with the read model and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import nats
import uvicorn
from nats.aio.client import Client

from projections.api import DEFAULT_HOST, create_app, default_port
from projections.dataset.projection import DATASET
from projections.runner import ConsumerSettings, ProjectionRunner
from services.bus.connection import connect_bus
from services.bus.streams import EVENTS_STREAM
from services.config import Settings

log = logging.getLogger(__name__)


def default_store_path(settings: Settings) -> Path:
    return settings.sqlite_path(f"projection-{DATASET.name}")


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


async def run_projector(
    nats_url: str, db_path: Path, settings: ConsumerSettings | None = None
) -> None:
    """The dataset runner until SIGINT/SIGTERM."""
    nc = await connect_bus(nats_url, name=f"sendx-projection-{DATASET.name}")
    store = DATASET.open_store(db_path)
    runner = ProjectionRunner(nc, DATASET.name, store, settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.stop)
    try:
        await runner.run()
    finally:
        store.close()
        await nc.drain()


def run_api(db_path: Path, nats_url: str | None, port: int | None = None) -> None:
    """The query API until Ctrl-C, reading the store the projector writes."""
    store = DATASET.open_store(db_path)
    app = create_app(store, stream_last_sequence=StreamTail(nats_url))
    # uvicorn re-raises SIGTERM after its graceful shutdown: make that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(app, host=DEFAULT_HOST, port=port or default_port(), log_level="info")


async def serve(
    settings: Settings, *, db_path: Path | None = None, port: int | None = None
) -> None:
    """Runner and API in one process: stops both on SIGINT/SIGTERM (`make run` friendly)."""
    nc = await connect_bus(settings.nats_url, name=f"sendx-projection-{DATASET.name}")
    store = DATASET.open_store(db_path or default_store_path(settings))
    runner = ProjectionRunner(nc, DATASET.name, store)
    app = create_app(store, stream_last_sequence=StreamTail(nc=nc))
    server = uvicorn.Server(uvicorn.Config(app, host=DEFAULT_HOST, port=port or default_port()))
    # uvicorn handles the signals while it serves, then re-raises them to these handlers.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(runner.stop))
    runner_task = asyncio.create_task(runner.run())
    runner_task.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        runner.stop()
        await runner_task
        store.close()
        await nc.drain()
