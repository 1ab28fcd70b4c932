"""`sendx projector`, `sendx api`, `sendx serve-dataset` and `sendx rebuild`: the read models'
processes and the auditors' replay (thin: parse arguments, call one function)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory

from projections.catalogue import CATALOGUE, projection_named
from projections.reading.fold_workers import FoldWorkers
from projections.reading.partitions import Partition
from projections.reading.projection import ProjectionStore
from projections.reading.rebuild import RebuildReport, rebuild_all, recorded_by
from projections.reading.store_worker import StoreWorker
from projections.readmodel import heap
from projections.readmodel.database import is_postgres_dsn, schema_exists
from projections.serving.processes import (
    catalogue_locations,
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
        "db",
        help="the new store (must not exist yet): a SQLite file or, with several --projection, a "
        "directory that receives projection-<name>.sqlite for each; or a PostgreSQL DSN "
        "(postgresql://...), each read model into the new schema <--schema-prefix><name>",
    )
    p.add_argument(
        "--schema-prefix", default="rebuilt_",
        help="PostgreSQL only: the new schemas' prefix (default rebuilt_: rebuilt_dataset, ...)",
    )
    p.add_argument(
        "--fold-workers", type=int, default=1,
        help="worker processes folding each store at once (PostgreSQL only above 1: the "
        "scale-out of a national rebuild)",
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
    targets = rebuild_targets(args.db, names, args.schema_prefix)
    if args.fold_workers < 1:
        raise ValueError(f"--fold-workers must be at least 1, not {args.fold_workers}")
    if args.fold_workers > 1 and not is_postgres_dsn(args.db):
        raise ValueError(
            f"--fold-workers {args.fold_workers} needs a PostgreSQL store (a DSN): a SQLite file "
            "takes one writer at a time"
        )
    for target in targets.values():
        if target.exists():
            raise ValueError(f"{target} exists: a rebuild writes a new store")
    if args.recorded_by is not None and args.recorded_by.tzinfo is None:
        raise ValueError("--recorded-by needs a UTC offset, e.g. 2025-06-30T23:59:59+00:00")
    if len(targets) > 1 and not is_postgres_dsn(args.db):
        Path(args.db).mkdir(parents=True, exist_ok=True)
    heap.manage()
    with shown("rebuild"):
        reports = asyncio.run(_rebuild(args, targets))
    for target, report in zip(targets.values(), reports, strict=True):
        print(
            f"applied {report.applied} events up to stream sequence {report.position} into "
            f"{target} ({report.filtered_out} recorded later, {len(report.invalid)} invalid)"
        )
    return 0


@dataclass(frozen=True)
class RebuildTarget:
    """Where one read model is rebuilt: a new SQLite file, or a new schema of a PostgreSQL DSN."""

    location: Path | str
    schema: str

    def exists(self) -> bool:
        if is_postgres_dsn(self.location):
            return schema_exists(str(self.location), self.schema)
        return Path(self.location).exists()

    def open(self, name: str) -> ProjectionStore:
        return projection_named(name).open_store(self.location, schema=self.schema)

    def __str__(self) -> str:
        if is_postgres_dsn(self.location):
            return f"PostgreSQL schema {self.schema}"
        return str(self.location)


def rebuild_targets(db: str, names: list[str], schema_prefix: str) -> dict[str, RebuildTarget]:
    """Each read model's new store: `db` itself (one, SQLite), `db/projection-<name>.sqlite`
    (several), or schema `<schema_prefix><name>` of the PostgreSQL database `db` names."""
    if is_postgres_dsn(db):
        return {name: RebuildTarget(db, f"{schema_prefix}{name}") for name in names}
    if len(names) == 1:
        return {names[0]: RebuildTarget(Path(db), f"sendx_{names[0]}")}
    return {name: RebuildTarget(Path(db) / f"projection-{name}.sqlite", f"sendx_{name}")
            for name in names}


async def _rebuild(
    args: argparse.Namespace, targets: dict[str, RebuildTarget]
) -> list[RebuildReport]:
    """Every store from one read of the stream (`rebuild_all`), each folding in its own worker
    process (or `--fold-workers` of them): a rebuild is all throughput, and the read models
    fold at once."""
    settings = Settings()
    nc = await connect_as(args.nats or settings.nats_url, login_as(Role.PROJECTOR.value, settings),
                          role=Role.PROJECTOR.value, name="sendx-rebuild")
    workers = [
        [StoreWorker(name if args.fold_workers == 1 else f"{name}-{n}",
                     partial(target.open, name)) for n in range(args.fold_workers)]
        for name, target in targets.items()
    ]
    stores = [group[0] if len(group) == 1 else FoldWorkers(group) for group in workers]
    try:
        with ExitStack() as spill:
            if is_postgres_dsn(args.db):  # the partition files, in a directory of their own
                spill_dir = Path(spill.enter_context(TemporaryDirectory(prefix="sendx-rebuild-")))
            else:  # beside the stores
                spill_dir = Path(next(iter(targets.values())).location).parent
            await asyncio.gather(*(asyncio.to_thread(w.start) for g in workers for w in g))
            accept = recorded_by(args.recorded_by) if args.recorded_by else None
            return await rebuild_all(
                nc, stores, stop_seq=args.to_seq, accept=accept, spill_dir=spill_dir
            )
    finally:
        for group in workers:
            for worker in group:
                worker.close()
        await nc.drain()
