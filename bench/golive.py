"""(i) Go-live at scale: a partnership's existing caseload imported through the normal path.

An LA brings its plans in force (`ehc.record_plan_in_force`) and an ICB its open and past
referrals (`health.make_referral` with `migrated_from`), each person registered first, as the
services README's go-live section says. Each extract goes through `Ingest.import_rows` in
requests of 200 rows (what `sendx import` sends; every row gets its outcome in the report) and,
as the yardstick, through eventsourcing's batched save of the same commands decided by the same
`@handles` methods (`bench.la_store.run_batched`). Figures: rows/s of each, their ratio (target
>= 0.8x) and the peak RSS of this process (target < 1 GiB: both paths run here).

    python -m bench.golive [--plans 20000] [--referrals 30000]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.la_store import run_batched
from bench.report import BenchRun, Figure, Section, print_section, verdict
from contracts.topology import Organisation
from runtime.partnership import DEMO_PARTNERSHIP
from runtime.store import store_env
from services.domain.identity import nhs_check_digit
from services.endpoint.ingest import Ingest
from services.endpoint.process import ServiceDefinition
from services.icb.service import ICB_SERVICE
from services.la.service import LA_SERVICE

CASELOAD = {"tiny": (300, 450), "small": (2_000, 3_000), "partnership": (20_000, 30_000),
            "national": (20_000, 30_000)}
"""Scale -> (plans in force, referrals) at go-live."""
REQUEST_ROWS = 200
GO_LIVE_DAY = date(2026, 10, 1)
NEEDS = ("ASD", "SLCN", "SEMH", "MLD", "SLD", "SPLD", "PD", "HI", "VI", "OTH")
PATHWAYS = ("neurodevelopmental", "slt", "camhs", "ot", "paediatrics")
RATIO_TARGET = "ingest >= 0.8x batched save"
MEMORY_TARGET = "< 1 GiB"


def _org(code: str) -> Organisation:
    return next(o for o in DEMO_PARTNERSHIP if o.code == code)


def nhs_numbers(prefix: str) -> Iterator[str]:
    """Valid NHS numbers (modulus 11) in a range of their own, none repeated."""
    n = 0
    while True:
        n += 1
        first_nine = f"{prefix}{n:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            yield f"{first_nine}{check}"


def _register(record_id: str, nhs: str, born_on: date) -> dict[str, Any]:
    return {"record_id": record_id, "command": "person.register", "nhs_number": nhs,
            "given_name": "Sam", "family_name": "Okafor", "born_on": born_on.isoformat()}


def la_go_live_rows(plans: int, seed: int = 1) -> list[dict[str, Any]]:
    """An LA's go-live extract: each child registered, then their plan in force since
    2015-2026 with its last review within the year (some without a last amendment)."""
    rng, numbers, rows = random.Random(seed), nhs_numbers("997"), []
    for n in range(1, plans + 1):
        nhs = next(numbers)
        born = date(2005, 1, 1) + timedelta(days=rng.randrange(17 * 365))
        issued = max(born + timedelta(days=3 * 365), date(2015, 1, 5)) + timedelta(
            days=rng.randrange(400))
        issued = min(issued, GO_LIVE_DAY - timedelta(days=60))
        reviewed = max(issued, GO_LIVE_DAY - timedelta(days=rng.randint(20, 360)))
        rows.append(_register(f"P{n}", nhs, born))
        rows.append({
            "record_id": f"G{n}", "command": "ehc.record_plan_in_force", "nhs_number": nhs,
            "case_id": f"856-C-G{n}", "plan_id": f"856-P-G{n}", "issued_on": issued.isoformat(),
            "primary_need": rng.choice(NEEDS), "placement": rng.choice(
                ["mainstream", "mainstream", "special", "resourced_provision"]),
            "last_reviewed_on": reviewed.isoformat(), "migrated_from": "capita-one",
            **({"requested_on": (issued - timedelta(weeks=rng.randint(14, 30))).isoformat()}
               if rng.random() < 0.3 and issued - timedelta(weeks=30) > born else {}),
        })
    return rows


def icb_go_live_rows(referrals: int, seed: int = 1) -> list[dict[str, Any]]:
    """An ICB's go-live extract: people registered, each with one to three referrals made in
    the three years before go-live (open or past), with their real referral dates."""
    rng, numbers, rows, made = random.Random(seed), nhs_numbers("996"), [], 0
    person = 0
    while made < referrals:
        person += 1
        nhs = next(numbers)
        born = date(2006, 1, 1) + timedelta(days=rng.randrange(17 * 365))
        rows.append(_register(f"P{person}", nhs, born))
        for _ in range(min(rng.choice((1, 1, 2, 3)), referrals - made)):
            made += 1
            referred = GO_LIVE_DAY - timedelta(days=rng.randint(10, 3 * 365))
            rows.append({
                "record_id": f"R{made}", "command": "health.make_referral", "nhs_number": nhs,
                "referral_id": f"QK1-R-{made}", "referred_on": max(referred, born).isoformat(),
                "pathway": rng.choice(PATHWAYS), "migrated_from": "systmone",
            })
    return rows


def batched_rows_per_second(service: ServiceDefinition, org: Organisation, path: Path,
                            rows: list[dict[str, Any]]) -> float:
    """The yardstick: the same rows parsed and decided, saved by `app.save` per 2,000."""
    app = service.application(org, store_env(org, sqlite_path=path))
    try:
        started = time.perf_counter()
        commands = [service.catalogue.parse_row(row, f"row {n}, ")[1]
                    for n, row in enumerate(rows, start=1)]
        run_batched(app, commands)
        return len(rows) / (time.perf_counter() - started)
    finally:
        app.factory.close()


def ingest_rows_per_second(service: ServiceDefinition, org: Organisation, path: Path,
                           rows: list[dict[str, Any]]) -> float:
    """The normal path: requests of 200 rows, each row's outcome reported; none may fail."""
    app = service.application(org, store_env(org, sqlite_path=path))
    ingest = Ingest(app, service.catalogue)
    try:
        started = time.perf_counter()
        for start in range(0, len(rows), REQUEST_ROWS):
            reply = ingest.import_rows({"rows": rows[start:start + REQUEST_ROWS]})
            if not reply.get("ok") or reply["rejected"]:
                bad = next((r for r in reply.get("rows", []) if not r["accepted"]), reply)
                raise RuntimeError(f"the go-live extract was refused: {bad}")
        return len(rows) / (time.perf_counter() - started)
    finally:
        app.factory.close()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_golive(run: BenchRun) -> list[Figure]:
    plans, referrals = CASELOAD[run.scale]
    folder = run.workdir / "golive"
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    for label, service, org, rows in (
        ("LA 856 plans in force", LA_SERVICE, _org("856"), la_go_live_rows(plans, run.seed)),
        ("ICB QK1 referrals", ICB_SERVICE, _org("QK1"), icb_go_live_rows(referrals, run.seed)),
    ):
        slug = org.code
        batched = batched_rows_per_second(service, org, folder / f"{slug}-batched.sqlite", rows)
        ingest = ingest_rows_per_second(service, org, folder / f"{slug}-ingest.sqlite", rows)
        ratio = ingest / batched
        figures += [
            Figure(f"{label}: batched app.save", batched, "rows/s", note=f"{len(rows):,} rows"),
            Figure(f"{label}: ingest path", ingest, "rows/s",
                   note=f"{len(rows):,} rows in {len(rows) / ingest:.1f} s, a report row each"),
            Figure(f"{label}: ingest / batched", ratio, "x",
                   target=verdict(RATIO_TARGET, ratio >= 0.8)),
        ]
    peak = peak_rss_bytes()
    figures.append(Figure("peak RSS of the importing process", peak / 2**20, "MiB",
                          target=verdict(MEMORY_TARGET, peak < 2**30)))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.golive", description=__doc__)
    parser.add_argument("--scale", default="partnership", choices=sorted(CASELOAD))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sendx-golive-") as workdir:
        run = BenchRun(scale=args.scale, seed=args.seed, workdir=Path(workdir))
        started = time.perf_counter()
        figures = measure_golive(run)
        section = Section("(i) Go-live at scale", figures, time.perf_counter() - started)
        print_section(section, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
