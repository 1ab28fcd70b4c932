"""The providers' demo extract rows for the shared demo children (see `sendx.demo.children`).

- 120001 (a secondary school) holds the children whose LA plan names it, and some others aged
  11-18: part-time timetables (a few still running), and post-16 destinations confirmed for
  those past Year 11 (some after the 31 March deadline).
- AP001 (an AP academy) starts the placements the LAs commissioned from it (tier, part time,
  reason, the commissioning LA) and a few the school arranged itself; most end, half of those
  with reintegration.
The LA's demo rows are read (not its domain) so the AP starts what the LA commissioned.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts import timescales
from sendx.demo.children import (
    DEMO_AP_PROVIDER,
    DEMO_SCHOOL,
    DEMO_TODAY,
    Child,
    ChildRows,
    children,
    columns_for,
    write_extract,
)
from sendx.demo.la import la_rows
from services.provider.commands import PROVIDER_COMMANDS

DEMO_PROVIDERS = (DEMO_SCHOOL, DEMO_AP_PROVIDER)


def _with_registration(out: ChildRows, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The child's registration first, then their rows (or nothing if there are none)."""
    if not rows:
        return []
    out.rows = []
    out.register()
    for row in rows:
        out.add(row.pop("command"), **{k: v for k, v in row.items() if k != "record_id"})
    return out.rows


def school_rows(child: Child, today: date = DEMO_TODAY) -> list[dict[str, Any]]:
    rng, out = child.rng("school"), ChildRows(child, DEMO_SCHOOL)
    named = any(r.get("placement_provider") == DEMO_SCHOOL for r in la_rows(child))
    if not named and not (11 <= child.age_on(today) <= 18 and rng.random() < 0.3):
        return []
    nhs = child.nhs_number
    if rng.random() < 0.1:
        started = today - timedelta(days=rng.randint(20, 400))
        if child.age_on(started) >= 11:
            timetable_id = f"{DEMO_SCHOOL}-T-{child.ref}"
            out.add(
                "provider.start_part_time_timetable",
                nhs_number=nhs,
                timetable_id=timetable_id,
                started_on=started,
                hours_per_week=rng.choice([10, 12.5, 15, 20]),
                reason=rng.choice(["medical", "reintegration", "behaviour", "send"]),
            )
            ended = started + timedelta(days=rng.randint(20, 120))
            if ended < today and rng.random() < 0.7:
                out.add(
                    "provider.end_part_time_timetable", timetable_id=timetable_id, ended_on=ended
                )
    moves_on = timescales.academic_year_end(timescales.birthday(child.born_on, 16)) + timedelta(
        days=1
    )
    confirmed = moves_on - timedelta(days=rng.randint(60, 250))
    if confirmed < today and child.age_on(today) <= 19 and rng.random() < 0.8:
        out.add(
            "provider.confirm_post16_destination",
            nhs_number=nhs,
            confirmed_on=confirmed,
            destination=rng.choice(
                ["sixth_form", "fe_college", "fe_college", "specialist_post16", "apprenticeship"]
            ),
            moves_on=moves_on,
        )
    return _with_registration(out, out.rows)


def ap_rows(child: Child, today: date = DEMO_TODAY) -> list[dict[str, Any]]:
    rng, out = child.rng("ap"), ChildRows(child, DEMO_AP_PROVIDER)
    commissioned = [
        r
        for r in la_rows(child)
        if r["command"] == "ap.commission_placement" and r["provider"] == DEMO_AP_PROVIDER
    ]
    for placement in commissioned:
        started = placement["commissioned_on"] + timedelta(days=rng.randint(5, 20))
        if started < today:
            _placement(
                out,
                rng,
                placement["placement_id"],
                started,
                placement["tier"],
                placement["reason"],
                child.la,
                today,
            )
    if not commissioned and 8 <= child.age_on(today) <= 16 and rng.random() < 0.05:
        started = today - timedelta(days=rng.randint(10, 500))
        placement_id = f"{DEMO_AP_PROVIDER}-P-{child.ref}"
        _placement(out, rng, placement_id, started, rng.choice([1, 2]), "behaviour", None, today)
    return _with_registration(out, out.rows)


def _placement(
    out: ChildRows,
    rng: random.Random,
    placement_id: str,
    started: date,
    tier: int,
    reason: str,
    commissioned_by: str | None,
    today: date,
) -> None:
    out.add(
        "ap.start_placement",
        nhs_number=out.child.nhs_number,
        placement_id=placement_id,
        started_on=started,
        tier=tier,
        part_time=tier == 1 or rng.random() < 0.3,
        reason=reason,
        commissioned_by=commissioned_by,
    )
    ended = started + timedelta(days=rng.randint(40, 300))
    if ended < today and rng.random() < 0.7:
        out.add(
            "ap.end_placement",
            placement_id=placement_id,
            ended_on=ended,
            outcome=rng.choices(["reintegrated", "moved", "other"], [5, 3, 2])[0],
        )


def provider_extract(org: str, kids: list[Child] | None = None) -> list[dict[str, Any]]:
    rows_for = school_rows if org == DEMO_SCHOOL else ap_rows
    return [row for child in (kids or children()) for row in rows_for(child)]


def provider_columns() -> list[str]:
    return columns_for(PROVIDER_COMMANDS)


def write_provider_extracts(
    out_dir: Path, *, count: int = 300, suffix: str = ".csv"
) -> dict[str, Path]:
    """`provider-120001.csv` and `provider-AP001.csv` (or `.jsonl`) in `out_dir`."""
    kids = children(count)
    return {
        org: write_extract(
            provider_extract(org, kids), out_dir / f"provider-{org}{suffix}", provider_columns()
        )
        for org in DEMO_PROVIDERS
    }
