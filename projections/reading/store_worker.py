"""A read model's store in a worker process of its own, beside the runner that feeds it.

Why. A projection's fold is CPU-bound Python. In one process the runner's event loop (reading
and parsing NATS messages, acking) and the store (decoding, folding, SQLite) take turns on one
GIL, so a projector used one core however many the machine has. With the store in a worker
process the two run at once: the runner fetches and parses the next batch while the worker
decodes and applies this one (`bench/findings.md`, "the store worker process"). It costs a
second busy process per projector, so a live projector uses one only where there are cores
for it (`wanted`); a rebuild, all throughput, always does.

How. `StoreWorker` starts a child process (multiprocessing, spawn: a fresh interpreter, no
inherited event loop or threads) that opens the store with `opener` and answers calls over a
pipe, one at a time: `position()` and `decode_and_apply(raws, ...)`
(`projections.reading.applying`). Only plain data crosses: the batch's `RawEvent`s and key table in,
an `Applied` out; the store, its memory of people and its SQLite or PostgreSQL connection
live in the worker (whose heap is managed, `readmodel.heap`).

Failure. If the worker dies (killed, out of memory), the call in progress raises
`StoreWorkerDied` naming it, nothing of that batch is committed (one transaction), and the
next call starts a new worker, which reopens the store at its committed position: the runner
naks the batch and it is redelivered. If the projector dies, the worker sees its pipe close
and exits; `close()` asks it to close the store and stops it by its PID if it does not.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from projections.reading.applying import Applied, LocalApplier
from projections.reading.batch import RawEvent
from projections.reading.folding import Loaded
from projections.reading.partitions import Partition
from projections.reading.projection import ProjectionStore
from projections.readmodel import heap
from runtime.settings import Settings, settings

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
START_TIMEOUT = 120.0
"""Seconds for a worker to import, open its store and say it is ready."""
CLOSE_TIMEOUT = 30.0
"""Seconds for a worker to finish its call, close its store and exit before it is killed."""

AUTO_CORES = 4
"""`auto` gives a live projector a worker from this many cores up (see `wanted`)."""

StoreOpener = Callable[[], ProjectionStore]
"""Opens the store in the worker: a picklable callable (a module-level function or partial)."""


def wanted(config: Settings | None = None) -> bool:
    """Whether a live projector keeps its store in a worker: `SENDX_STORE_WORKER` on, off or
    auto (the default: on with at least `AUTO_CORES` cores available to this process).

    Why not always: a worker buys throughput with a second process per projector. With two
    cores for everything (nats-server, services, two projectors, the API), six busy processes
    queue for them and publish-to-visible latency at 1,000 events/s went from p99 ~60 ms to
    100-170 ms while catch-up gained ~20-35% (`bench/findings.md`). A rebuild, where only
    throughput counts, always uses workers (`sendx rebuild`, the benches)."""
    mode = (config or settings()).store_worker
    if mode == "auto":
        return len(os.sched_getaffinity(0)) >= AUTO_CORES
    return mode == "on"


class StoreWorkerDied(RuntimeError):
    """The worker process ended during a call (or would not start)."""


class StoreWorkerError(RuntimeError):
    """A call raised in the worker: its type, message and traceback, as text."""


class StoreWorker:
    """`projections.reading.applying.Applier` for a store in a worker process (blocking calls)."""

    def __init__(
        self, name: str, opener: StoreOpener, partition: Partition | None = None
    ) -> None:
        self.name = name
        self.partition = partition
        self._opener = opener
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> StoreWorker:
        """Start the worker (if it is not running) and wait until its store is open."""
        with self._lock:
            self._ensure_started()
        return self

    def position(self) -> int:
        return int(self._call("position"))

    def decode_and_apply(self, raws: Sequence[RawEvent], **options: Any) -> Applied:
        """`applying.decode_and_apply` in the worker (the options are its keywords)."""
        return self._call("decode_and_apply", list(raws), **options)  # type: ignore[no-any-return]

    def bulk_begin(self) -> bool:
        return bool(self._call("bulk_begin"))

    def bulk_partition(self, path: Path, **options: Any) -> Loaded | None:
        """`LocalApplier.bulk_partition` in the worker: it folds, this process only waits."""
        return self._call("bulk_partition", path, **options)  # type: ignore[no-any-return]

    def bulk_join(self) -> None:
        self._call("bulk_join")

    def bulk_finish(self, position: int) -> int:
        return int(self._call("bulk_finish", position))

    def bulk_abandon(self) -> None:
        self._call("bulk_abandon")

    def close(self) -> None:
        """Ask the worker to close its store and exit; kill it by its PID if it does not."""
        with self._lock:
            if self._conn is not None and self._process is not None:
                try:
                    self._conn.send(("close", (), {}))
                    if self._conn.poll(CLOSE_TIMEOUT):
                        self._conn.recv()
                except (EOFError, OSError):
                    pass
            self._stop()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send((method, args, kwargs))
                status, value = conn.recv()
            except (EOFError, OSError) as exc:
                code = self._stop()
                raise StoreWorkerDied(
                    f"the {self.name} store worker died during {method} (exit code {code}): "
                    f"{type(exc).__name__}; nothing of the call was committed"
                ) from None
        if status == "error":
            raise StoreWorkerError(f"{self.name} store worker, {method}: {value}")
        return value

    def _ensure_started(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self._stop()
        ours, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=serve, args=(theirs, self._opener, self.partition),
            name=f"sendx-store-{self.name}", daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        if not ours.poll(START_TIMEOUT):
            self._stop()
            raise StoreWorkerDied(
                f"the {self.name} store worker did not open its store within {START_TIMEOUT:g} s"
            )
        try:
            status, value = ours.recv()
        except EOFError:
            code = self._stop()
            raise StoreWorkerDied(
                f"the {self.name} store worker exited while starting (exit code {code})"
            ) from None
        if status != "ready":
            self._stop()
            raise StoreWorkerError(f"{self.name} store worker could not open its store: {value}")
        log.info("%s store worker started (pid %s)", self.name, process.pid)
        return ours

    def _stop(self) -> int | None:
        """Stop the worker by its PID (if running) and forget it; its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        process.join(CLOSE_TIMEOUT)
        if process.is_alive():
            log.warning("%s store worker (pid %s) did not exit: killing it", self.name,
                        process.pid)
            process.kill()
            process.join(CLOSE_TIMEOUT)
        code = process.exitcode
        process.close()
        return code


def serve(conn: Connection, opener: StoreOpener, partition: Partition | None) -> None:
    """The worker: open the store, then answer calls until told to close or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the projector, which closes us
    heap.manage()
    try:
        store = opener()
        applier = LocalApplier(partition.view(store) if partition else store)  # type: ignore[arg-type]
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                method, args, kwargs = conn.recv()
            except (EOFError, OSError):
                return
            if method == "close":
                break
            try:
                conn.send(("ok", getattr(applier, method)(*args, **kwargs)))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        store.close()
    conn.send(("closed", None))
