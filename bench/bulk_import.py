"""(g) The ingest path (`sendx import`: rows -> commands) as a ratio of the batched save.

Both sides take the same extract rows of LA 856 into a fresh SQLite store, rows parsed by the
LA's command catalogue and decided by the same `@handles` methods:
- baseline: the changed aggregates saved together, `app.save(*aggregates)` per 2,000 commands
  (`bench.la_store`): what eventsourcing itself can store;
- ingest path: `Ingest.import_rows` in requests of 200 rows (what the LA service runs for each
  request `sendx import` sends; NATS transport not included): the rows decided against a
  staging view and saved in one transaction per request, each with its `ImportedRecord` (so
  re-sending the extract changes nothing) and its own outcome in the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.la_store import LA_856, fill_la_store, la_extract_rows
from bench.report import BenchRun, Figure
from contracts.topology import Organisation
from runtime.store import store_env
from services.endpoint.ingest import Ingest
from services.la.service import LA_SERVICE

IMPORT_CHILDREN = {"tiny": 200, "small": 600, "partnership": 1_000, "national": 1_000}
REQUEST_ROWS = 200  # `ServiceClient.import_rows` default batch size


@dataclass(frozen=True)
class ImportRun:
    rows: int
    accepted: int
    events: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def import_rows(path: Path, rows: list[dict[str, Any]], org: Organisation = LA_856,
                request_rows: int = REQUEST_ROWS) -> ImportRun:
    """Rows through `Ingest.import_rows` into a new store; every row must be accepted."""
    app = LA_SERVICE.application(org, store_env(org, sqlite_path=path))
    ingest = Ingest(app, LA_SERVICE.catalogue)
    accepted = 0
    try:
        started = time.perf_counter()
        for start in range(0, len(rows), request_rows):
            chunk = rows[start:start + request_rows]
            reply = ingest.import_rows({"rows": chunk})
            if not reply.get("ok") or reply["rejected"]:
                first = next((r for r in reply.get("rows", []) if not r["accepted"]), reply)
                raise RuntimeError(f"the ingest path rejected a demo row: {first}")
            accepted += reply["accepted"]
        seconds = time.perf_counter() - started
        events = app.recorder.max_notification_id() or 0
    finally:
        app.factory.close()
    return ImportRun(len(rows), accepted, events, seconds)


def measure_bulk_import(run: BenchRun) -> list[Figure]:
    rows = la_extract_rows(LA_856, IMPORT_CHILDREN[run.scale])
    batched = fill_la_store(run.workdir / "import" / "batched.sqlite", rows)
    ingest = import_rows(run.workdir / "import" / "ingest.sqlite", rows)
    return [
        Figure("batched app.save", batched.rows_per_second, "rows/s",
               note=f"{batched.rows:,} rows -> {batched.events:,} events in "
                    f"{batched.seconds:.1f} s"),
        Figure("ingest path (Ingest.import_rows)", ingest.rows_per_second, "rows/s",
               note=f"{ingest.rows:,} rows -> {ingest.events:,} stored events (with import "
                    f"records) in {ingest.seconds:.1f} s"),
        Figure("ingest / batched", ingest.rows_per_second / batched.rows_per_second, "x",
               note="same rows, same rules; the ingest path also stores an import record per "
                    "row and saves per request of 200 rows, not per 2,000"),
    ]
