"""The latest data date: the last day anything in the dataset happened on, so that a reader who
gives no date sees the figures as of where the data ends rather than an empty "today".

Partners send extracts that end some days or weeks before they are loaded; a default of today
would show months with nothing in them yet as if nothing had happened.
"""

from __future__ import annotations

from datetime import date

from projections.readmodel.store import Snapshot

DATED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ehc_plans", "issued_on"),
    ("ehc_plans", "requested_on"),
    ("ehc_plans", "ceased_on"),
    ("health_plan_flags", "set_on"),
    ("health_plan_flags", "cleared_on"),
    ("assessment_decisions", "decided_on"),
    ("advice_requests", "requested_on"),
    ("advice_requests", "returned_on"),
    ("annual_reviews", "held_on"),
    ("plan_amendments", "amended_on"),
    ("referrals", "referred_on"),
    ("referrals", "started_on"),
    ("ap_placements", "started_on"),
    ("ap_placements", "ended_on"),
    ("part_time_timetables", "started_on"),
    ("part_time_timetables", "ended_on"),
    ("assessment_requests", "requested_on"),
    ("amend_decisions", "decided_on"),
)
"""Every date column of the fact tables that records something happening."""


def latest_data_date(snapshot: Snapshot, today: date) -> date | None:
    """The latest date in the facts on or before `today` (None when there are no facts).

    Dates after today (a plan's recorded end still to come) are not data about the past."""
    sql = " UNION ALL ".join(
        f"SELECT MAX({column}) FROM {table} WHERE {column} <= ?" for table, column in DATED_COLUMNS
    )
    found = [row[0] for row in snapshot.query(sql, [today.isoformat()] * len(DATED_COLUMNS))]
    days = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in found if d]
    return max(days, default=None)
