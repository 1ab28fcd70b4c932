"""(g) The ingest path (`sendx import`: rows -> commands) as a ratio of the batched save.

Both sides take the same extract rows of LA 856 into a fresh SQLite store, rows parsed by the
LA's command catalogue and decided by the same `@handles` methods:
- baseline: the changed aggregates saved together, `app.save(*aggregates)` per 2,000 commands
  (`bench.la_store`): what eventsourcing itself can store;
- ingest path: `Ingest.import_rows` in requests of 200 rows (what the LA service runs for each
  request `sendx import` sends; NATS transport not included): the rows decided against a
  staging view and saved in one transaction per request, each with its `ImportedRecord` (so
  re-sending the extract changes nothing) and its own outcome in the report.

Beside the ratio, the CPU (process time) per row of each phase of the ingest path, measured
by timing the phases' methods on this run's own `Ingest` and application, so that a miss
shows its floor: parsing and validating rows, the request's import-record lookup, the
`@handles` methods, the rest of deciding (import records, event ids, staging), the save.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.la_store import LA_856, fill_la_store, la_extract_rows
from bench.phase_clock import PhaseClock
from bench.report import BenchRun, Figure
from contracts.topology import Organisation
from runtime.store import store_env
from services.endpoint.ingest import Ingest
from services.la.service import LA_SERVICE

IMPORT_CHILDREN = {"tiny": 200, "small": 600, "partnership": 1_000, "national": 1_000}
REQUEST_ROWS = 200  # `ServiceClient.import_rows` default batch size


PHASES = {
    "parse and validate rows": "parse_row",
    "record ids checked and looked up (one query per request)": "_unrecorded",
    "@handles methods": "handlers",
    "deciding, the rest (import records, event ids, staging)": "_decide_together",
    "save and commit": "save",
}
"""Phase -> the timed method (`handlers`: every `@handles` method of the application)."""


@dataclass(frozen=True)
class ImportRun:
    rows: int
    accepted: int
    events: int
    seconds: float
    cpu_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """CPU seconds per phase (`PHASES`), the handlers' time not counted in deciding's."""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def import_rows(path: Path, rows: list[dict[str, Any]], org: Organisation = LA_856,
                request_rows: int = REQUEST_ROWS) -> ImportRun:
    """Rows through `Ingest.import_rows` into a new store; every row must be accepted."""
    app = LA_SERVICE.application(org, store_env(org, sqlite_path=path))
    ingest = Ingest(app, LA_SERVICE.catalogue)
    clock = PhaseClock()
    clock.wrap(ingest, "parse_row")
    for name in ("_unrecorded", "_decide_together", "save"):
        clock.wrap(app, name)
    for handler in set(app._handlers.values()):
        clock.wrap(app, handler, "handlers")
    accepted = 0
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(rows), request_rows):
            chunk = rows[start:start + request_rows]
            reply = ingest.import_rows({"rows": chunk})
            if not reply.get("ok") or reply["rejected"]:
                first = next((r for r in reply.get("rows", []) if not r["accepted"]), reply)
                raise RuntimeError(f"the ingest path rejected a demo row: {first}")
            accepted += reply["accepted"]
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        events = app.recorder.max_notification_id() or 0
    finally:
        app.factory.close()
    phases = {phase: clock.seconds[name] for phase, name in PHASES.items()}
    phases[next(p for p, n in PHASES.items() if n == "_decide_together")] -= phases[
        next(p for p, n in PHASES.items() if n == "handlers")]
    return ImportRun(len(rows), accepted, events, seconds, cpu, phases)


def phase_figures(run: ImportRun) -> list[Figure]:
    """CPU µs per row of each phase, and what no phase accounts for (the request loop,
    reports, summaries)."""
    per_row = 1e6 / run.rows
    rest = run.cpu_seconds - sum(run.phases.values())
    return [
        Figure("ingest CPU per row, all", run.cpu_seconds * per_row, "µs",
               note=f"{run.cpu_seconds:.2f} s of process time for {run.rows:,} rows"),
        *(Figure(f"ingest CPU per row: {phase}", seconds * per_row, "µs")
          for phase, seconds in run.phases.items()),
        Figure("ingest CPU per row: the rest (request loop, reports)", rest * per_row, "µs"),
    ]


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
        *phase_figures(ingest),
    ]
