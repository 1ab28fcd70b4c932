"""Reading the dataset's facts: the aggregate counts the indicators are made of.

`DatasetSnapshot` is what `queries.py` needs from any store (one consistent read); the SQLite
implementation is here. The SQL only counts precomputed facts (dates as ISO text compare in
calendar order), so a PostgreSQL snapshot is the same statements with its own placeholders.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from projections.dataset.facts import HealthFlagFact, PersonFacts, PlanFact
from projections.dataset.periods import Month

MonthArea = tuple[str, str]
"""(month as YYYY-MM, LA code)."""


@dataclass(frozen=True)
class TimelinessCounts:
    month: str
    la_code: str
    issued: int
    exceptions: int
    no_request_recorded: int
    within_twenty_weeks: int


class DatasetSnapshot(Protocol):
    def position(self) -> int: ...
    def active_plan_counts(self, months: Sequence[Month]) -> dict[MonthArea, int]: ...
    def health_flag_counts(self, months: Sequence[Month]) -> dict[MonthArea, int]: ...
    def timeliness_counts(self, months: Sequence[Month]) -> list[TimelinessCounts]: ...


_ACTIVE_AT_MONTH_END = """
WITH months (month, month_end) AS (VALUES {values})
SELECT m.month, f.la_code, COUNT(*)
FROM months m JOIN {table} f
  ON f.{started} <= m.month_end AND (f.{ended} IS NULL OR f.{ended} > m.month_end)
GROUP BY m.month, f.la_code
"""

_TIMELINESS = """
SELECT issued_month, la_code,
       COUNT(*),
       SUM(CASE WHEN exception IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN exception IS NULL AND requested_on IS NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN exception IS NULL AND within_twenty_weeks = 1 THEN 1 ELSE 0 END)
FROM ehc_plans
WHERE issued_month BETWEEN ? AND ?
GROUP BY issued_month, la_code
"""


class SqliteSnapshot:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def position(self) -> int:
        return int(self._conn.execute("SELECT seq FROM projection_position").fetchone()[0])

    def active_plan_counts(self, months: Sequence[Month]) -> dict[MonthArea, int]:
        """Plans issued on or before each month's last day and not ceased by then."""
        return self._active_at_month_end(months, "ehc_plans", "issued_on", "ceased_on")

    def health_flag_counts(self, months: Sequence[Month]) -> dict[MonthArea, int]:
        """Health flag spells set on or before each month's last day and not cleared by then."""
        return self._active_at_month_end(months, "health_plan_flags", "set_on", "cleared_on")

    def timeliness_counts(self, months: Sequence[Month]) -> list[TimelinessCounts]:
        if not months:
            return []
        rows = self._conn.execute(_TIMELINESS, (str(min(months)), str(max(months))))
        return [TimelinessCounts(*row) for row in rows]

    def person_facts(self) -> dict[str, PersonFacts]:
        """Every person's stored facts, for comparing the read model with a from-scratch fold."""
        plans: dict[str, list[PlanFact]] = {}
        for row in self._conn.execute(
            "SELECT person_key, la_code, plan_id, case_id, primary_need, issued_on, requested_on,"
            " within_twenty_weeks, exception, ceased_on FROM ehc_plans"
            " ORDER BY person_key, la_code, plan_id"
        ):
            (person, la, plan, case, need, issued, requested, within, exception, ceased) = row
            plans.setdefault(person, []).append(PlanFact(
                person, la, plan, case, need, date.fromisoformat(issued), _day(requested),
                None if within is None else bool(within), exception, _day(ceased),
            ))
        flags: dict[str, list[HealthFlagFact]] = {}
        for person, la, spell, set_on, cleared_on in self._conn.execute(
            "SELECT person_key, la_code, spell, set_on, cleared_on FROM health_plan_flags"
            " ORDER BY person_key, la_code, spell"
        ):
            flags.setdefault(person, []).append(
                HealthFlagFact(person, la, spell, date.fromisoformat(set_on), _day(cleared_on))
            )
        return {
            person: PersonFacts(tuple(plans.get(person, ())), tuple(flags.get(person, ())))
            for person in sorted(plans.keys() | flags.keys())
        }

    def _active_at_month_end(
        self, months: Sequence[Month], table: str, started: str, ended: str
    ) -> dict[MonthArea, int]:
        if not months:
            return {}
        sql = _ACTIVE_AT_MONTH_END.format(
            values=", ".join("(?, ?)" for _ in months), table=table, started=started, ended=ended
        )
        params = [value for m in months for value in (str(m), m.last_day.isoformat())]
        return {(month, la): count for month, la, count in self._conn.execute(sql, params)}


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
