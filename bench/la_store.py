"""An LA's eventsourcing store filled quickly with real LA events, for the relay and import benches.

The rows are the demo extract rows (`sendx.demo.extracts.la_rows`) of synthetic children of one LA,
parsed by the LA's own command catalogue and decided by the LA application's own `@handles`
methods, so every stored event is one the service would store. What differs from the ingest
path is the saving and the bookkeeping: the changed aggregates are held in the application's
staging view (`services.domain.application.StagingRepository`, where a command that names an
aggregate changed earlier in the same batch finds it with its pending events) and saved together
with eventsourcing's `app.save(*aggregates)` every `batch` commands, with no `ImportedRecord` per
row and no per-row outcome.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.topology import Organisation
from runtime.partnership import DEMO_PARTNERSHIP
from runtime.store import store_env
from sendx.demo.children import children
from sendx.demo.extracts import la_rows
from services.domain.command import Command
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE

LA_856: Organisation = next(o for o in DEMO_PARTNERSHIP if o.code == "856")
SAVE_BATCH = 2_000
"""Commands per `app.save`: large enough that the per-transaction cost disappears."""


def la_extract_rows(org: Organisation, demo_children: int) -> list[dict[str, Any]]:
    """The extract rows of the LA's share of `demo_children` synthetic children, child by child."""
    return [row for child in children(demo_children) if child.la == org.code
            for row in la_rows(child)]


def run_batched(app: LaApplication, commands: list[Command], batch: int = SAVE_BATCH) -> int:
    """Decide every command with its `@handles` method; save every `batch`. Returns events."""
    before = app.recorder.max_notification_id() or 0
    for start in range(0, len(commands), batch):
        with app.repository.staging() as staged:
            for command in commands[start:start + batch]:
                for aggregate in getattr(app, app._handlers[type(command)])(command):
                    staged[aggregate.id] = aggregate
            app.save(*staged.values())
    return (app.recorder.max_notification_id() or 0) - before


@dataclass(frozen=True)
class FilledStore:
    path: Path
    org: Organisation
    rows: int
    events: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def parsed(rows: list[dict[str, Any]]) -> Iterator[Command]:
    for number, row in enumerate(rows, start=1):
        _, command = LA_CATALOGUE.parse_row(row, f"row {number}, ")
        yield command


def fill_la_store(path: Path, rows: list[dict[str, Any]], org: Organisation = LA_856,
                  *, batch: int = SAVE_BATCH) -> FilledStore:
    """A new SQLite store at `path` holding the events of `rows`, saved in batches.

    Timed from the rows (parsing included, as on the ingest path) to the last commit."""
    app = LaApplication(org, store_env(org, sqlite_path=path))
    try:
        started = time.perf_counter()
        events = run_batched(app, list(parsed(rows)), batch)
        seconds = time.perf_counter() - started
    finally:
        app.factory.close()
    return FilledStore(path, org, len(rows), events, seconds)
