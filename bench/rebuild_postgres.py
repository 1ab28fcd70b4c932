"""`python -m bench.rebuild_postgres`: 1, 2 and 3 fold workers rebuilding one PostgreSQL store.

    python -m bench.rebuild_postgres --dsn postgresql://sendx:sendx@127.0.0.1:5432/sendx_test
    python -m bench.rebuild_postgres --events 200000 --workers 1 2 3 4

The scale-out of a national rebuild (`projections.reading.fold_workers`): the stream is read and
spilled by person once per run, then N worker processes fold the partition files into one
PostgreSQL schema at once (`COPY`, indexes built last). Each configuration rebuilds the dataset
read model from the same stream (the partnership's first `--events`) into a fresh schema, in
this process as the reader, and reports wall time, rate, the wall time of each phase and the CPU
per event of the reader, the workers and nats-server, so the cores a national rebuild in 10
minutes needs is a figure. PostgreSQL's own CPU is not counted: the server is shared with other
work on this machine (the test suites of other sessions), so its process times are not ours.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

from bench.partnership import FINDINGS
from bench.projection_bus import ProjectionBus
from bench.projection_process import process_cpu_seconds
from bench.rebuild_rate import NATIONAL_TARGET_EVENTS, WALL_TARGET_SECONDS
from bench.report import BenchRun, Figure, Section, measured, print_section, render
from projections.dataset.store import DatasetStore
from projections.reading.fold_workers import FoldWorkers
from projections.reading.rebuild import rebuild_all
from projections.reading.store_worker import StoreWorker
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import NatsServer
from sendx.demo.population import generate_wire


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def rebuild_with(url: str, dsn: str, count: int, events: int, spill: Path,
                       server_pid: int | None) -> list[Figure]:
    """One rebuild of the dataset into a fresh schema by `count` fold workers."""
    import psycopg

    schema = f"bench_rebuild_{uuid.uuid4().hex[:10]}"
    workers = FoldWorkers([
        StoreWorker(f"dataset-{n}", partial(DatasetStore, dsn, schema=schema))
        for n in range(count)
    ])
    nc = await connect_bus(url, name=f"bench-rebuild-postgres-{count}")
    try:
        for worker in workers.workers:
            await asyncio.to_thread(worker.start)  # type: ignore[attr-defined]
        pids = [w.pid for w in workers.workers]  # type: ignore[attr-defined]
        before = [process_cpu_seconds(p) for p in pids]
        server_before = process_cpu_seconds(server_pid) if server_pid else 0.0
        reader_before, started = _self_cpu(), time.perf_counter()
        (report,) = await rebuild_all(nc, [workers], spill_dir=spill, stop_seq=events)
        wall = time.perf_counter() - started
        reader = _self_cpu() - reader_before
        folders = sum(process_cpu_seconds(p) - b for p, b in zip(pids, before, strict=True))
        server = (process_cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    finally:
        workers.close()
        await nc.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    if not report.grouped or report.position < events:
        raise RuntimeError(f"{count} workers: rebuilt to {report.position:,} of {events:,}")
    total = (reader + folders + server) / events
    label = f"{count} fold worker{'s' if count > 1 else ''}"
    return [
        Figure(f"{label}: wall", wall, "s", note=f"{events:,} events, dataset read model"),
        Figure(f"{label}: rebuild rate", report.applied / wall, "events/s"),
        *(Figure(f"{label}: phase {phase}", seconds, "s wall") for phase, seconds
          in report.phases.items()),
        Figure(f"{label}: CPU per event, reader", reader / events * 1e6, "µs",
               note="reading, keys, spilling by person"),
        Figure(f"{label}: CPU per event, fold workers", folders / events * 1e6, "µs",
               note=f"{count} processes together: decoding, folding, COPY, indexes"),
        Figure(f"{label}: CPU per event, nats-server", server / events * 1e6, "µs"),
        Figure(f"{label}: cores for 10 M events in 10 min", total * NATIONAL_TARGET_EVENTS
               / WALL_TARGET_SECONDS, "cores",
               note="reader + fold workers + nats-server CPU (PostgreSQL's own not counted)"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild_postgres",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("SENDX_TEST_POSTGRES_DSN"))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("--dsn (or SENDX_TEST_POSTGRES_DSN) names the PostgreSQL database")
    command = "python -m bench.rebuild_postgres " + " ".join(
        argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="sendx-rebuild-postgres-") as tmp:
        run = BenchRun(scale="partnership", seed=args.seed, workdir=Path(tmp))
        server = NatsServer(store_dir=Path(tmp) / "nats").start(timeout=900)
        sections: list[Section] = []
        try:
            bus = ProjectionBus(server, Path(tmp))
            bus.publish(itertools.islice(generate_wire("partnership", args.seed), args.events))
            for count in args.workers:
                section = measured(
                    f"Rebuild into PostgreSQL by {count} fold worker(s)",
                    lambda count=count: asyncio.run(rebuild_with(
                        bus.url, args.dsn, count, bus.published, Path(tmp), server.pid)))
                print_section(section, None)
                sections.append(section)
        finally:
            server.stop()
    if args.out is not None:
        args.out.write_text(render(run, sections, command.strip(), FINDINGS.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
