"""Reading the dataset's facts for a period: portable SQL (SQLite and PostgreSQL alike) that
only narrows the rows by date; the counting is done by `counting.py`, so the rules live once.

Dates are stored as ISO text, which compares in calendar order.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections.dataset.counting import a_year_before
from projections.dataset.facts import (
    AdviceFact,
    AmendmentFact,
    AppealFact,
    ComplaintFact,
    DecisionFact,
    DsrSpellFact,
    HealthCheckFact,
    HealthFlagFact,
    LdRegisterFact,
    MediationFact,
    PlacementFact,
    PlanFact,
    ReferralFact,
    ReviewFact,
    TimetableFact,
)
from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot

DatasetSnapshot = Snapshot


def _first_day(months: Sequence[Month]) -> str:
    return f"{months[0]}-01"


def _last_day(months: Sequence[Month]) -> str:
    return months[-1].last_day.isoformat()


def _spanning(
    snapshot: Snapshot, table: str, start: str, end: str, months: Sequence[Month]
) -> list:
    """Rows whose [start, end) spell covers any of the months' last days."""
    return snapshot.rows(
        table,
        f"{start} <= ? AND ({end} IS NULL OR {end} > ?)",
        (_last_day(months), months[0].last_day.isoformat()),
    )


def _dated_within(snapshot: Snapshot, table: str, column: str, months: Sequence[Month]) -> list:
    return snapshot.rows(
        table, f"{column} BETWEEN ? AND ?", (_first_day(months), _last_day(months))
    )


def plans_in_force(snapshot: Snapshot, months: Sequence[Month]) -> list[PlanFact]:
    return _spanning(snapshot, "ehc_plans", "issued_on", "ceased_on", months)


def flags_in_force(snapshot: Snapshot, months: Sequence[Month]) -> list[HealthFlagFact]:
    return _spanning(snapshot, "health_plan_flags", "set_on", "cleared_on", months)


def plans_issued(snapshot: Snapshot, months: Sequence[Month]) -> list[PlanFact]:
    return _dated_within(snapshot, "ehc_plans", "issued_on", months)


def decisions_made(snapshot: Snapshot, months: Sequence[Month]) -> list[DecisionFact]:
    return _dated_within(snapshot, "assessment_decisions", "decided_on", months)


def advice_returned(snapshot: Snapshot, months: Sequence[Month]) -> list[AdviceFact]:
    return _dated_within(snapshot, "advice_requests", "returned_on", months)


def reviews_held(snapshot: Snapshot, months: Sequence[Month]) -> list[ReviewFact]:
    return _dated_within(snapshot, "annual_reviews", "held_on", months)


def amendments_issued(snapshot: Snapshot, months: Sequence[Month]) -> list[AmendmentFact]:
    return _dated_within(snapshot, "plan_amendments", "amended_on", months)


def referrals_open_or_started(snapshot: Snapshot, months: Sequence[Month]) -> list[ReferralFact]:
    """Referrals made by the period's end whose waits had not all ended before it began."""
    first = _first_day(months)
    return snapshot.rows(
        "referrals",
        "referred_on <= ? AND (closed_on IS NULL OR closed_on >= ?) AND ("
        "started_on IS NULL OR started_on >= ? OR diagnosed_on IS NULL OR diagnosed_on >= ?)",
        (_last_day(months), first, first, first),
    )


def placements_in_period(snapshot: Snapshot, months: Sequence[Month]) -> list[PlacementFact]:
    return snapshot.rows(
        "ap_placements",
        "started_on <= ? AND (ended_on IS NULL OR ended_on >= ?)",
        (_last_day(months), _first_day(months)),
    )


def timetables_in_force(snapshot: Snapshot, months: Sequence[Month]) -> list[TimetableFact]:
    return _spanning(snapshot, "part_time_timetables", "started_on", "ended_on", months)


def ld_register_by(snapshot: Snapshot, months: Sequence[Month]) -> list[LdRegisterFact]:
    """People on the LD register by the period's end."""
    return snapshot.rows("ld_register", "on_register_from <= ?", (_last_day(months),))


def health_checks_for(snapshot: Snapshot, months: Sequence[Month]) -> list[HealthCheckFact]:
    """Checks in the 12 months before the period's first month end, up to its last day."""
    since = a_year_before(months[0].last_day).isoformat()
    return snapshot.rows(
        "health_checks", "completed_on > ? AND completed_on <= ?", (since, _last_day(months))
    )


def dsr_spells_in_force(snapshot: Snapshot, months: Sequence[Month]) -> list[DsrSpellFact]:
    return _spanning(snapshot, "dsr_spells", "from_on", "until_on", months)


def mediations_within(snapshot: Snapshot, months: Sequence[Month]) -> list[MediationFact]:
    return _dated_within(snapshot, "mediations", "happened_on", months)


def appeals_within(snapshot: Snapshot, months: Sequence[Month]) -> list[AppealFact]:
    """Appeals registered or decided in the period."""
    return _started_or_ended(snapshot, "tribunal_appeals", "registered_on", "decided_on", months)


def complaints_within(snapshot: Snapshot, months: Sequence[Month]) -> list[ComplaintFact]:
    """Complaints received or resolved in the period."""
    return _started_or_ended(snapshot, "complaints", "received_on", "resolved_on", months)


def _started_or_ended(
    snapshot: Snapshot, table: str, start: str, end: str, months: Sequence[Month]
) -> list:
    first, last = _first_day(months), _last_day(months)
    return snapshot.rows(
        table, f"({start} BETWEEN ? AND ?) OR ({end} BETWEEN ? AND ?)", (first, last, first, last)
    )
