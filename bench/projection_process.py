"""One projection in a process of its own, so that its rate and its peak memory are its own.

    python -m bench.projection_process catch-up --projection NAME --nats URL --store DB --until N
    python -m bench.projection_process live     --projection NAME --nats URL --store DB
    python -m bench.projection_process rebuild  --projection NAME --nats URL --store DB [--until M]

`catch-up` runs the real `ProjectionRunner` (durable pull consumer, batches, SQLite store,
position in the same transaction) until its committed position reaches N; `live` runs it until
SIGTERM (for the latency bench, which watches the store's position); `rebuild` runs
`projections.rebuild.rebuild` into the (fresh) store. Each prints one JSON line when done:
events applied, seconds from the first fetch to the last commit (interpreter start-up and
imports excluded) and the process's peak resident memory (`VmHWM` in /proc/self/status).
`live` first prints `{"ready": true}` once the runner is started.

`ProjectionProcess` starts one from the bench and stops it by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nats
import orjson

from projections.dataset.projection import DATASET
from projections.projection import Projection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
POLL = 0.01


def catalogue() -> tuple[Projection, ...]:
    """Every projection the partnership runs; only the dataset if there is no catalogue yet."""
    try:
        from projections.catalogue import CATALOGUE
    except ImportError:
        return (DATASET,)
    return tuple(CATALOGUE)


def projection_named(name: str) -> Projection:
    for projection in catalogue():
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in catalogue())
    raise LookupError(f"no projection named {name!r} (known: {known})")


def peak_rss_bytes() -> int:
    """This process's high-water mark of resident memory (VmHWM), in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@dataclass(frozen=True)
class ProcessResult:
    projection: str
    mode: str
    applied: int
    position: int
    seconds: float
    peak_rss: int

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0


async def run_runner(args: argparse.Namespace) -> ProcessResult:
    projection = projection_named(args.projection)
    nc = await nats.connect(args.nats, name=f"bench-{args.mode}-{projection.name}")
    store = projection.open_store(args.store)
    try:
        runner = ProjectionRunner(nc, projection.name, store)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        started = time.perf_counter()
        task = asyncio.create_task(runner.run())
        if args.mode == "live":
            print(orjson.dumps({"ready": True}).decode(), flush=True)
        while not task.done() and not stopping.is_set():
            if args.until is not None and runner.position >= args.until:
                break
            await asyncio.sleep(POLL)
        seconds = time.perf_counter() - started
        runner.stop()
        await task
        return ProcessResult(projection.name, args.mode, runner.applied, runner.position,
                             seconds, peak_rss_bytes())
    finally:
        store.close()
        await nc.close()


async def run_rebuild(args: argparse.Namespace) -> ProcessResult:
    projection = projection_named(args.projection)
    nc = await nats.connect(args.nats, name=f"bench-rebuild-{projection.name}")
    store = projection.open_store(args.store)
    try:
        started = time.perf_counter()
        report = await rebuild(nc, store, stop_seq=args.until)
        seconds = time.perf_counter() - started
    finally:
        store.close()
        await nc.close()
    if report.invalid:
        raise RuntimeError(f"{len(report.invalid)} events could not be decoded: "
                           f"{report.invalid[:3]}")
    return ProcessResult(projection.name, "rebuild", report.applied, report.position, seconds,
                         peak_rss_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.projection_process",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("catch-up", "live", "rebuild"))
    parser.add_argument("--projection", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--until", type=int, default=None,
                        help="the stream sequence to stop at (required for catch-up)")
    args = parser.parse_args(argv)
    if args.mode == "catch-up" and args.until is None:
        parser.error("catch-up needs --until")
    work = run_rebuild(args) if args.mode == "rebuild" else run_runner(args)
    result = asyncio.run(work)
    print(orjson.dumps(asdict(result)).decode(), flush=True)
    return 0


class ProjectionProcess:
    """A `python -m bench.projection_process` child; stderr goes to `log`."""

    def __init__(self, mode: str, projection: str, nats_url: str, store: Path, log: Path,
                 until: int | None = None) -> None:
        command = [sys.executable, "-m", "bench.projection_process", mode,
                   "--projection", projection, "--nats", nats_url, "--store", str(store)]
        if until is not None:
            command += ["--until", str(until)]
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        with open(log, "ab") as err:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                            cwd=REPO_ROOT, env=env)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until a `live` child says its runner is started."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if orjson.loads(line).get("ready"):
                return
        self.kill()
        raise RuntimeError(f"projection process did not start: {self._tail()}")

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
