"""One projection in a process of its own, so that its rate and its peak memory are its own.

    python -m bench.projection_process catch-up --projection NAME --nats URL --store DB --until N
    python -m bench.projection_process live     --projection NAME --nats URL --store DB
    python -m bench.projection_process rebuild  --projection NAME --nats URL --store DB [--until M]
    python -m bench.projection_process rebuild  --projection A,B --nats URL --store DIR [--until M]

`catch-up` runs the real `ProjectionRunner` (durable pull consumer, batches, SQLite store,
position in the same transaction) until its committed position reaches N, and with
`--stay-live` reports then and carries on live until SIGTERM (so that the latency bench
measures the runner that caught up, warm, as a long-running projector is); `live` runs a new
runner until SIGTERM (for the latency bench, which watches the store's position); `rebuild` runs
`projections.reading.rebuild.rebuild` into the (fresh) store, or, given several projections,
`rebuild_all` into `DIR/projection-<name>.sqlite` (the stream read and decoded once, every store
fed from it, in one process). Each prints one JSON line when done: events applied, seconds from
the first fetch to the last commit (interpreter start-up and imports excluded) and the process's
peak resident memory (`VmHWM` in /proc/self/status). `live` first prints `{"ready": true}` once
the runner is started.

The projection `position-only` (`PositionOnlyStore`) is not a read model: its store records the
position and nothing else, so a runner on it measures the bus side alone (fetch, decode, commit,
ack), against the same raw-consume yardstick.

`ProjectionProcess` starts one from the bench and stops it by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import orjson

from projections.dataset.projection import DATASET
from projections.reading.projection import Projection, ProjectionStore, StreamEvent
from projections.reading.rebuild import rebuild_all
from projections.reading.runner import ProjectionRunner
from projections.reading.store_worker import StoreWorker
from projections.reading.store_worker import wanted as store_worker_wanted
from projections.readmodel import heap
from runtime.bus.connection import connect_bus

REPO_ROOT = Path(__file__).resolve().parents[1]
POLL = 0.01


class PositionOnlyStore:
    """A SQLite store that commits the position and nothing else (the bus side's yardstick)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # as the read models' stores
        self._db.execute("CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY, seq INT)")

    def position(self) -> int:
        row = self._db.execute("SELECT seq FROM position WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def apply_batch(self, events: Sequence[StreamEvent], position: int | None = None) -> int:
        position = max(e.seq for e in events) if position is None else position
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO position VALUES (1, ?)", (position,))
        return position

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True)
class PositionOnly:
    name: str = "position-only"

    def open_store(self, location: Path | str) -> ProjectionStore:
        return PositionOnlyStore(Path(location))


POSITION_ONLY = PositionOnly()


def catalogue() -> tuple[Projection, ...]:
    """Every projection the partnership runs; only the dataset if there is no catalogue yet."""
    try:
        from projections.catalogue import CATALOGUE
    except ImportError:
        return (DATASET,)
    return tuple(CATALOGUE)


def projection_named(name: str) -> Projection:
    for projection in (*catalogue(), POSITION_ONLY):
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in catalogue())
    raise LookupError(f"no projection named {name!r} (known: {known})")


def peak_rss_bytes(workers: Sequence[StoreWorker] = ()) -> int:
    """The high-water mark of resident memory (VmHWM), in bytes, of this process plus its store
    workers' (read while they run: a projection is the runner and its worker)."""
    return sum(peak_rss_parts(workers).values())


def peak_rss_parts(workers: Sequence[StoreWorker] = ()) -> dict[str, int]:
    """VmHWM of this process (`reader`) and of each store worker (by projection), in bytes."""
    return {"reader": _vm_hwm("self"),
            **{w.name: _vm_hwm(str(w.pid)) for w in workers if w.pid is not None}}


def _vm_hwm(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if pid != "self":
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def cpu_seconds(workers: Sequence[StoreWorker] = ()) -> float:
    """CPU time (user + system) used so far by this process and its running store workers."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + sum(
        process_cpu_seconds(w.pid) for w in workers if w.pid is not None)


def cpu_parts(workers: Sequence[StoreWorker] = ()) -> dict[str, float]:
    """CPU time so far of this process (`reader`) and of each running store worker."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"reader": usage.ru_utime + usage.ru_stime,
            **{w.name: process_cpu_seconds(w.pid) for w in workers if w.pid is not None}}


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a running process (`/proc/<pid>/stat`)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def workers_of(store: ProjectionStore | StoreWorker) -> list[StoreWorker]:
    return [store] if isinstance(store, StoreWorker) else []


def worker_for(projection: Projection, location: Path) -> StoreWorker:
    """The store in a worker process, as `sendx projector` runs it."""
    return StoreWorker(projection.name, partial(projection.open_store, location)).start()


@dataclass(frozen=True)
class ProcessResult:
    projection: str
    mode: str
    applied: int
    position: int
    seconds: float
    peak_rss: int
    cpu_seconds: float = 0.0
    """CPU time (user + system) of the process and its store workers over `seconds`."""
    peak_rss_parts: dict[str, int] = field(default_factory=dict)
    """`peak_rss` by process: `reader` (this one) and each store worker by projection."""
    cpu_parts: dict[str, float] = field(default_factory=dict)
    """`cpu_seconds` by process, named as in `peak_rss_parts` (rebuilds)."""
    phases: dict[str, float] = field(default_factory=dict)
    """A grouped rebuild's wall seconds by phase (`RebuildReport.phases`)."""
    cpu_phases: dict[str, float] = field(default_factory=dict)
    """A runner's CPU seconds by phase over `seconds` (`ProjectionRunner.cpu_by_phase`)."""
    batches: int = 0
    """Batches a runner committed over `seconds`."""
    rebuild_cpu_phases: dict[str, dict[str, float]] = field(default_factory=dict)
    """A grouped rebuild's CPU seconds by phase per read model (`RebuildReport.cpu`)."""

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


async def run_runner(args: argparse.Namespace) -> ProcessResult:
    projection = projection_named(args.projection)
    nc = await connect_bus(args.nats, name=f"bench-{args.mode}-{projection.name}")
    store: ProjectionStore | StoreWorker = (
        worker_for(projection, args.store) if store_worker_wanted()
        else projection.open_store(args.store))
    try:
        runner = ProjectionRunner(nc, args.consumer or projection.name, store)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        started = time.perf_counter()
        task = asyncio.create_task(runner.run())
        if args.mode == "live":
            print(orjson.dumps({"ready": True}).decode(), flush=True)
        caught_up = 0
        """Events applied by the catch-up, once it is reported (`--stay-live`)."""
        batches, cpu = 0, dict.fromkeys(runner.cpu_by_phase(), 0.0)
        """The same at the catch-up's report: the live part's figures are what came after."""
        while not task.done() and not stopping.is_set():
            if args.until is not None and runner.position >= args.until and not caught_up:
                if not args.stay_live:
                    break
                seconds = time.perf_counter() - started
                print(orjson.dumps(asdict(ProcessResult(
                    projection.name, args.mode, runner.applied, runner.position, seconds,
                    peak_rss_bytes(workers_of(store)), cpu_phases=runner.cpu_by_phase(),
                    batches=runner.batches))).decode(), flush=True)
                caught_up, started = runner.applied, time.perf_counter()
                batches, cpu = runner.batches, runner.cpu_by_phase()
            await asyncio.sleep(POLL)
        seconds = time.perf_counter() - started
        runner.stop()
        await task
        mode = "live" if caught_up else args.mode
        phases = {phase: used - cpu[phase] for phase, used in runner.cpu_by_phase().items()}
        return ProcessResult(projection.name, mode, runner.applied - caught_up, runner.position,
                             seconds, peak_rss_bytes(workers_of(store)), cpu_phases=phases,
                             batches=runner.batches - batches)
    finally:
        store.close()
        await nc.close()


async def run_rebuild(args: argparse.Namespace) -> ProcessResult:
    """One projection into the store `args.store`, or several (`A,B`) read once into
    `args.store / projection-<name>.sqlite` (`rebuild_all`); each store in its worker."""
    projections = [projection_named(name) for name in args.projection.split(",")]
    locations = [args.store] if len(projections) == 1 else [
        args.store / f"projection-{p.name}.sqlite" for p in projections]
    locations[0].parent.mkdir(parents=True, exist_ok=True)
    nc = await connect_bus(args.nats, name=f"bench-rebuild-{args.projection}")
    stores = [worker_for(p, location) for p, location in zip(projections, locations, strict=True)]
    try:
        parts_before = cpu_parts(stores)
        cpu_before, started = cpu_seconds(stores), time.perf_counter()
        reports = await rebuild_all(nc, stores, stop_seq=args.until,
                                    spill_dir=locations[0].parent)
        seconds = time.perf_counter() - started
        cpu, peaks = cpu_seconds(stores) - cpu_before, peak_rss_parts(stores)
        parts = {name: used - parts_before[name] for name, used in cpu_parts(stores).items()}
    finally:
        for store in stores:
            store.close()
        await nc.close()
    invalid = [i for report in reports for i in report.invalid]
    if invalid:
        raise RuntimeError(f"{len(invalid)} events could not be decoded: {invalid[:3]}")
    return ProcessResult(args.projection, "rebuild", min(r.applied for r in reports),
                         min(r.position for r in reports), seconds, sum(peaks.values()), cpu,
                         peaks, parts, reports[0].phases,
                         rebuild_cpu_phases={p.name: r.cpu for p, r in
                                             zip(projections, reports, strict=True)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.projection_process",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("catch-up", "live", "rebuild"))
    parser.add_argument("--projection", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--until", type=int, default=None,
                        help="the stream sequence to stop at (required for catch-up)")
    parser.add_argument("--consumer", default=None,
                        help="catch-up/live: the runner's name, which names its durable consumer "
                             "(default: the projection's; another one to run beside it)")
    parser.add_argument("--stay-live", action="store_true",
                        help="catch-up: report at --until, then carry on live until SIGTERM")
    args = parser.parse_args(argv)
    if args.mode == "catch-up" and args.until is None:
        parser.error("catch-up needs --until")
    heap.manage()  # as `sendx projector` and `sendx rebuild` do
    work = run_rebuild(args) if args.mode == "rebuild" else run_runner(args)
    result = asyncio.run(work)
    print(orjson.dumps(asdict(result)).decode(), flush=True)
    return 0


class ProjectionProcess:
    """A `python -m bench.projection_process` child; stderr goes to `log`."""

    def __init__(self, mode: str, projection: str, nats_url: str, store: Path, log: Path,
                 until: int | None = None, stay_live: bool = False,
                 store_worker: str | None = None, consumer: str | None = None) -> None:
        """`store_worker`: on/off/auto for the child's `SENDX_STORE_WORKER` (None: inherited);
        `consumer`: the runner's own name (durable consumer), to run beside another runner."""
        command = [sys.executable, "-m", "bench.projection_process", mode,
                   "--projection", projection, "--nats", nats_url, "--store", str(store)]
        if until is not None:
            command += ["--until", str(until)]
        if stay_live:
            command.append("--stay-live")
        if consumer is not None:
            command += ["--consumer", consumer]
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        if store_worker is not None:
            env["SENDX_STORE_WORKER"] = store_worker
        with open(log, "ab") as err:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                            cwd=REPO_ROOT, env=env)

    def _next_report(self, timeout: float, wanted: Callable[[dict], bool]) -> dict | None:
        """The first JSON line on the child's stdout that `wanted` accepts (None: it ended)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                return None
            if line.strip() and wanted(report := orjson.loads(line)):
                return report
        return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until a `live` child says its runner is started."""
        if self._next_report(timeout, lambda report: bool(report.get("ready"))) is None:
            self.kill()
            raise RuntimeError(f"projection process did not start: {self._tail()}")

    def caught_up(self, timeout: float = 3_600) -> ProcessResult:
        """The catch-up's result from a `--stay-live` child, which then carries on live."""
        report = self._next_report(timeout, lambda report: "mode" in report)
        if report is None:
            self.kill()
            raise RuntimeError(f"projection process did not catch up: {self._tail()}")
        return ProcessResult(**report)

    def result(self, timeout: float | None = None) -> ProcessResult:
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"projection process still running after {timeout} s") from None
        lines = [line for line in out.splitlines() if line.strip()]
        if self.process.returncode != 0 or not lines:
            raise RuntimeError(f"projection process failed ({self.process.returncode}): "
                               f"{self._tail()}")
        return ProcessResult(**orjson.loads(lines[-1]))

    def stop(self, timeout: float = 60.0) -> ProcessResult:
        """SIGTERM to a `live` child: it stops its runner and reports."""
        self.process.send_signal(signal.SIGTERM)
        return self.result(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _tail(self) -> str:
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return "(no log)"


if __name__ == "__main__":
    raise SystemExit(main())
