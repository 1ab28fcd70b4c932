"""`sendx projector`, `sendx api`, `sendx serve-dataset` and `sendx rebuild`: the read models'
processes and the auditors' replay (thin: parse arguments, call one function)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import datetime
from functools import partial
from pathlib import Path

from projections.catalogue import CATALOGUE, projection_named
from projections.reading.partitions import Partition
from projections.reading.rebuild import RebuildReport, rebuild_all, recorded_by
from projections.reading.store_worker import StoreWorker
from projections.readmodel import heap
from projections.serving.processes import (
    catalogue_locations,
    open_store,
    run_api,
    run_projector,
    serve,
)
from runtime.bus.permissions import Role
from runtime.progress import shown
from runtime.settings import Settings
from sendx.commands.login import connect_as, login_as

NAMES = [p.name for p in CATALOGUE]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("projector", help="keep every read model up to date from NATS")
    p.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    p.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        default=None,
        help="run only this projection (repeatable; default: every one in the catalogue)",
    )
    p.add_argument(
        "--metrics-port", type=int, default=None,
        help="serve /healthz, /readyz, /metrics here (default $SENDX_METRICS_PORT; 0 = off)",
    )
    p.add_argument(
        "--partition", type=int, default=None,
        help="apply only the people of this partition (0..N-1; needs --partitions)",
    )
    p.add_argument(
        "--partitions", type=int, default=None,
        help="how many projector workers share the read models (one per --partition)",
    )
    p.set_defaults(func=projector)

    p = subparsers.add_parser("api", help="serve the dataset's and the tracker's query API (/docs)")
    p.add_argument("--port", type=int, default=None, help="default $PORT or 8000")
    p.add_argument("--nats", default=None, help="NATS URL for the lag (default $NATS_URL)")
    p.set_defaults(func=api)

    p = subparsers.add_parser("serve-dataset", help="every projector and the API in one process")
    p.add_argument("--port", type=int, default=None, help="default $PORT or 8000")
    p.set_defaults(func=serve_dataset)

    p = subparsers.add_parser(
        "rebuild", help="replay SEND_EVENTS into new read model stores (as the projector user)")
    p.add_argument(
        "db", type=Path,
        help="the new store (must not exist yet); with several --projection, a directory that "
        "receives projection-<name>.sqlite for each",
    )
    p.add_argument(
        "--projection", action="append", choices=NAMES, default=None,
        help="default: dataset; repeat it to rebuild several from one read of the stream",
    )
    p.add_argument("--nats", default=None)
    p.add_argument("--to-seq", type=int, default=None, help="last stream sequence to apply")
    p.add_argument(
        "--recorded-by",
        type=datetime.fromisoformat,
        default=None,
        help="only events recorded at or before this time (ISO 8601 with offset)",
    )
    p.set_defaults(func=rebuild_store)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def projector(args: argparse.Namespace) -> int:
    _logging()
    heap.manage()
    settings = Settings()
    locations = catalogue_locations(settings)
    if args.only:
        locations = {name: locations[name] for name in args.only}
    asyncio.run(
        run_projector(
            args.nats or settings.nats_url, locations, monitoring_port=args.metrics_port,
            partition=chosen_partition(args.partition, args.partitions),
        )
    )
    return 0


def chosen_partition(index: int | None, count: int | None) -> Partition | None:
    """The partition `--partition`/`--partitions` name, or None (one projector for everyone)."""
    if index is None and count is None:
        return None
    if index is None or count is None:
        raise ValueError("--partition and --partitions go together, e.g. --partition 0 "
                         "--partitions 3 (one worker per partition 0..2)")
    return Partition(index, count)


def api(args: argparse.Namespace) -> int:
    settings = Settings()
    run_api(catalogue_locations(settings), args.nats or settings.nats_url, args.port)
    return 0


def serve_dataset(args: argparse.Namespace) -> int:
    _logging()
    heap.manage()
    asyncio.run(serve(Settings(), port=args.port))
    return 0


def rebuild_store(args: argparse.Namespace) -> int:
    names = list(dict.fromkeys(args.projection or ["dataset"]))
    paths = {names[0]: args.db} if len(names) == 1 else {
        name: args.db / f"projection-{name}.sqlite" for name in names
    }
    for path in paths.values():
        if path.exists():
            raise ValueError(f"{path} exists: a rebuild writes a new store")
    if args.recorded_by is not None and args.recorded_by.tzinfo is None:
        raise ValueError("--recorded-by needs a UTC offset, e.g. 2025-06-30T23:59:59+00:00")
    if len(paths) > 1:
        args.db.mkdir(parents=True, exist_ok=True)
    heap.manage()
    with shown("rebuild"):
        reports = asyncio.run(_rebuild(args, paths))
    for path, report in zip(paths.values(), reports, strict=True):
        print(
            f"applied {report.applied} events up to stream sequence {report.position} into "
            f"{path} ({report.filtered_out} recorded later, {len(report.invalid)} invalid)"
        )
    return 0


async def _rebuild(args: argparse.Namespace, paths: dict[str, Path]) -> list[RebuildReport]:
    """Every store from one read of the stream (`rebuild_all`), each folding in its own worker
    process: a rebuild is all throughput, and the read models fold at once."""
    settings = Settings()
    nc = await connect_as(args.nats or settings.nats_url, login_as(Role.PROJECTOR.value, settings),
                          role=Role.PROJECTOR.value, name="sendx-rebuild")
    stores = [StoreWorker(name, partial(open_store, projection_named(name), path))
              for name, path in paths.items()]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in stores))
        accept = recorded_by(args.recorded_by) if args.recorded_by else None
        return await rebuild_all(nc, stores, stop_seq=args.to_seq, accept=accept)
    finally:
        for store in stores:
            store.close()
        await nc.drain()
