"""Counting the facts into each indicator's monthly counts, per LA. Pure: facts in, counts out.

The date rules are the indicators' definitions (`indicators.py`): a stock (plans maintained,
people waiting, placements active) is taken on the last day of the month; a flow (plans issued,
decisions, reviews, advice returned, assessments started, placements ended) is counted in the
month its date falls in. Timeliness itself was judged once, when the facts were derived
(`facts.py`, through `contracts.timescales`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from projections.dataset.facts import (
    AdviceFact,
    AmendmentFact,
    DecisionFact,
    HealthFlagFact,
    PlacementFact,
    PlanFact,
    ReferralFact,
    ReviewFact,
    TimetableFact,
)
from projections.dataset.periods import Month

Tally = dict[tuple[str, str], dict[str | None, Counter[str]]]
"""(month, breakdown group or "") -> LA code (None: unknown) -> measure -> count."""
Values = dict[tuple[str, str], dict[str | None, list[float]]]
"""(month, group) -> LA code -> the values a median/percentile is taken of."""

WEEK_BANDS = (
    (0, 18, "waiting_0_18_weeks"),
    (18, 52, "waiting_18_52_weeks"),
    (52, None, "waiting_52_plus_weeks"),
)


def _tally() -> Tally:
    return defaultdict(lambda: defaultdict(Counter))


def _values() -> Values:
    return defaultdict(lambda: defaultdict(list))


def active_on(day: date, started: date | None, ended: date | None) -> bool:
    """Started on or before `day` and not ended on or before it."""
    return started is not None and started <= day and (ended is None or ended > day)


def _month_of(day: date | None, months: Sequence[Month]) -> str | None:
    if day is None:
        return None
    month = Month.of(day)
    return str(month) if months[0] <= month <= months[-1] else None


def weeks_between(start: date, end: date) -> float:
    return (end - start).days / 7


@dataclass(frozen=True)
class Sides:
    """Who each side counts as having an active plan from one LA on one day."""

    la: frozenset[str]
    health: frozenset[str]

    @property
    def la_only(self) -> frozenset[str]:
        return self.la - self.health

    @property
    def health_only(self) -> frozenset[str]:
        return self.health - self.la


def plan_sides(
    plans: Iterable[PlanFact], flags: Iterable[HealthFlagFact], months: Sequence[Month]
) -> dict[str, dict[str, Sides]]:
    """Month -> LA -> the people the LA and health each count at the month's last day."""
    plans, flags = list(plans), list(flags)
    sides: dict[str, dict[str, Sides]] = {}
    for month in months:
        end = month.last_day
        la_side: dict[str, set[str]] = defaultdict(set)
        health_side: dict[str, set[str]] = defaultdict(set)
        for p in plans:
            if active_on(end, p.issued_on, p.ceased_on):
                la_side[p.la_code].add(p.person_key)
        for f in flags:
            if active_on(end, f.set_on, f.cleared_on):
                health_side[f.la_code].add(f.person_key)
        sides[str(month)] = {
            la: Sides(frozenset(la_side[la]), frozenset(health_side[la]))
            for la in la_side.keys() | health_side.keys()
        }
    return sides


def active_plan_counts(sides: dict[str, dict[str, Sides]]) -> Tally:
    tally = _tally()
    for month, by_la in sides.items():
        for la, s in by_la.items():
            tally[(month, "")][la].update(
                {
                    "la_count": len(s.la),
                    "health_count": len(s.health),
                    "both": len(s.la & s.health),
                    "la_only": len(s.la_only),
                    "health_only": len(s.health_only),
                }
            )
    return tally


def _timed(tally: Tally, key: tuple[str, str], la: str | None, within: bool | None) -> None:
    """Count one timed item: counted, and within or late (None: not counted, no start known)."""
    if within is None:
        return
    tally[key][la].update(["counted", "within" if within else "late"])


def twenty_week_counts(plans: Iterable[PlanFact], months: Sequence[Month]) -> Tally:
    tally = _tally()
    for p in plans:
        month = _month_of(p.issued_on, months)
        if month is None:
            continue
        key = (month, "")
        tally[key][p.la_code]["issued"] += 1
        if p.exception is not None:
            tally[key][p.la_code]["exceptions"] += 1
        elif p.requested_on is None:
            tally[key][p.la_code]["no_request_recorded"] += 1
        else:
            _timed(tally, key, p.la_code, p.within_twenty_weeks)
    return tally


def decision_counts(decisions: Iterable[DecisionFact], months: Sequence[Month]) -> Tally:
    tally = _tally()
    for d in decisions:
        month = _month_of(d.decided_on, months)
        if month is None:
            continue
        tally[(month, "")][d.la_code]["decided"] += 1
        if d.requested_on is None:
            tally[(month, "")][d.la_code]["no_request_recorded"] += 1
        _timed(tally, (month, ""), d.la_code, d.within_six_weeks)
    return tally


def advice_counts(advice: Iterable[AdviceFact], months: Sequence[Month]) -> Tally:
    tally = _tally()
    for a in advice:
        month = _month_of(a.returned_on, months)
        if month is None:
            continue
        key = (month, a.advice_giver)
        tally[key][a.la_code]["returned"] += 1
        if a.requested_on is None:
            tally[key][a.la_code]["no_request_recorded"] += 1
        _timed(tally, key, a.la_code, a.within_six_weeks)
    return tally


def review_counts(reviews: Iterable[ReviewFact], months: Sequence[Month]) -> Tally:
    tally = _tally()
    for r in reviews:
        month = _month_of(r.held_on, months)
        if month is None:
            continue
        tally[(month, "")][r.la_code]["held"] += 1
        if r.previous_on is None:
            tally[(month, "")][r.la_code]["no_issue_recorded"] += 1
        _timed(tally, (month, ""), r.la_code, r.within_twelve_months)
    return tally


def amendment_counts(amendments: Iterable[AmendmentFact], months: Sequence[Month]) -> Tally:
    tally = _tally()
    for a in amendments:
        month = _month_of(a.amended_on, months)
        if month is not None:
            tally[(month, "")][a.la_code]["amended"] += 1
            _timed(tally, (month, ""), a.la_code, a.within_twelve_weeks)
    return tally


def band_of(weeks: float) -> str:
    """0-18: under 18 weeks; 18-52: 18 weeks up to under 52; 52+: 52 weeks or more."""
    return next(
        name for low, high, name in WEEK_BANDS if weeks >= low and (high is None or weeks < high)
    )


def wait_counts(referrals: Iterable[ReferralFact], months: Sequence[Month]) -> tuple[Tally, Values]:
    """Waiting at each month end (with bands) and, for waits ended in the month, their length."""
    referrals = [r for r in referrals if r.referred_on is not None]
    tally, waits = _tally(), _values()
    for month in months:
        end = month.last_day
        for r in referrals:
            if active_on(end, r.referred_on, r.started_on):
                key = (str(month), r.pathway)
                tally[key][r.la_code].update(
                    ["waiting", band_of(weeks_between(r.referred_on, end))]
                )
    for r in referrals:
        month = _month_of(r.started_on, months)
        if month is not None and r.started_on >= r.referred_on:
            tally[(month, r.pathway)][r.la_code]["started"] += 1
            waits[(month, r.pathway)][r.la_code].append(weeks_between(r.referred_on, r.started_on))
    return tally, waits


def ap_counts(
    placements: Iterable[PlacementFact],
    timetables: Iterable[TimetableFact],
    months: Sequence[Month],
) -> tuple[Tally, Values]:
    """Active placements (by tier, part-time, provider) and timetables at each month end;
    placements ended in the month, reintegrated, and their lengths in weeks."""
    placements, timetables = list(placements), list(timetables)
    tally, lengths = _tally(), _values()
    for month in months:
        end, key = month.last_day, (str(month), "")
        for p in placements:
            if active_on(end, p.started_on, p.ended_on):
                tally[key][p.la_code].update(
                    [
                        "active",
                        f"tier_{p.tier}",
                        f"provider:{p.provider}",
                        "part_time" if p.part_time else "full_time",
                    ]
                )
        for t in timetables:
            if active_on(end, t.started_on, t.ended_on):
                tally[key][t.la_code]["part_time_timetables"] += 1
    for p in placements:
        month = _month_of(p.ended_on, months)
        if month is None or p.started_on is None:
            continue
        reintegrated = p.outcome == "reintegrated"
        tally[(month, "")][p.la_code].update(
            ["ended", "reintegrated" if reintegrated else "not_reintegrated"]
        )
        lengths[(month, "")][p.la_code].append(weeks_between(p.started_on, p.ended_on))
    return tally, lengths
