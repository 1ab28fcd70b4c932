"""Where one organisation's event store lives: the eventsourcing environment of its Application.

Each organisation keeps its own store, holding the raw identifiers and names that never leave
it. The environment is built here, once for every service kind:

- `SENDX_STORE=sqlite` (default): one SQLite file per organisation,
  `$SENDX_DATA_DIR/<kind>-<org>.sqlite` (e.g. `.sendx/la-856.sqlite`).
- `SENDX_STORE=postgres`: eventsourcing's `eventsourcing.postgres` module. Tables are prefixed
  with the application name `<kind>_<org>` (`la_856_events`, `la_856_relay_checkpoint`), so
  organisations sharing one database do not collide.
- `POSTGRES_DBNAME`, `POSTGRES_HOST`, `POSTGRES_PORT`, `POSTGRES_USER`, `POSTGRES_PASSWORD`
  (and `POSTGRES_SCHEMA`, `POSTGRES_POOL_SIZE`, ...): read by eventsourcing itself.
- `SENDX_CIPHER_KEY`: a base64 AES key (`eventsourcing.cipher.AESCipher.create_key(32)`);
  when set, every stored event is encrypted at rest with AES-GCM.
- `AGGREGATE_CACHE_MAXSIZE` (eventsourcing's own; default `AGGREGATE_CACHE` here): how many
  aggregates the repository keeps in memory. A command or a relay lookup then reads only the
  events stored since (eventsourcing's fast-forward, so other writers' events are never
  missed) instead of rebuilding the aggregate from its first event. Set but empty: no cache.

The relay's checkpoint (`services.sharing.checkpoint`) lives in the same database, so the store and
the position of what has been shared are backed up and restored together.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from contracts.topology import Organisation
from runtime.settings import Settings
from runtime.settings import settings as current_settings

AGGREGATE_CACHE: int = Settings.model_fields["aggregate_cache_maxsize"].default
"""Aggregates kept per application (a few KiB each, so tens of MiB at most): an import or a
relay works through a partnership's people child by child, so recent ones are reused at once;
rebuilding them was a third of the ingest path's time (bench/findings.md)."""


def application_name(org: Organisation) -> str:
    """`la_856`: the eventsourcing application name, also the PostgreSQL table prefix."""
    return f"{org.kind.value}_{org.code}".lower()


def store_env(
    org: Organisation, settings: Settings | None = None, *, sqlite_path: Path | None = None
) -> dict[str, str]:
    """The eventsourcing environment for `org`'s Application (merged over `os.environ`)."""
    settings = settings or current_settings()
    env: dict[str, str] = {}
    if settings.store == "postgres":
        env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    else:
        path = sqlite_path or settings.sqlite_path(f"{org.kind.value}-{org.code}")
        path.parent.mkdir(parents=True, exist_ok=True)
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = str(path)
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    cache = settings.aggregate_cache_maxsize
    env["AGGREGATE_CACHE_MAXSIZE"] = "" if cache is None else str(cache)
    if settings.cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cipher:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    return env


T = TypeVar("T")
RunBlocking = Callable[..., Awaitable[Any]]
"""`await run(fn, *args, **kwargs)`: a blocking store call off the event loop."""


class StoreThreads:
    """The threads one service's store calls run in, so stopping can wait for them.

    Cancelling a task that awaits a thread does not stop the thread: closing the store while a
    relay or command thread is still inside SQLite crashes the process. A service therefore runs
    every store call here and `drain()`s before it closes the store.
    """

    def __init__(self, name: str, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def drain(self, timeout: float = 20.0) -> bool:
        """Wait for every call already running (later calls are refused); False if some call
        was still running after `timeout` seconds, in which case the store must stay open."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self._executor.shutdown, True), timeout)
        except TimeoutError:
            return False
        return True
