"""Indicator 1: active EHC plans according to the LA and to health, and the discrepancy.

The definition shown beside the figures, who each side counts at a month end (from plan facts
and health's plan flags), the published counts and, for authorised users, the person keys
counted by one side only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from projections.dataset.areas import Partnership
from projections.dataset.counting import Tally, active_on, new_tally
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import HealthFlagFact, PlanFact
from projections.dataset.figures import AreaFigure, Count, Figures
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, fixed, read
from projections.dataset.snapshot import flags_in_force, plans_in_force
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "active-plans",
    1,
    "Active EHC plans according to the LA and according to health",
    "For each local authority and month, on the last day of the month: LA count = people for "
    "whom the LA maintains an EHC plan (an ehc.plan_issued, or an ehc.plan_in_force_recorded "
    "for a plan already in force when the LA joined, dated on or before that day and no "
    "ehc.plan_ceased dated on or before it). Health count = people whose health record marks "
    "them as having an EHC plan from that LA on that day (a health.ehc_plan_flag_set dated on or "
    "before the day, not followed by a health.ehc_plan_flag_cleared dated on or before it). "
    "Discrepancy: both = people counted by both sides; LA only = counted by the LA and not by "
    "health; health only = counted by health and not by the LA (people are matched by their "
    "pseudonymous person key). The lists of person keys on each side are served separately "
    "to authorised users.",
    "Children and Families Act 2014 s.37 (duty to maintain a plan); comparable with SEN2 'EHC "
    "plans maintained' (taken on the January census day rather than every month end).",
    "as at the last day of the month",
)


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
    tally = new_tally()
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


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    plans, flags = plans_in_force(s, months), flags_in_force(s, months)
    return active_plan_counts(plan_sides(plans, flags, months))


class ActivePlansFigure(AreaFigure):
    la_count: Count = Field(description="People with a plan the LA maintains at the month end.")
    health_count: Count = Field(description="People health flags as having a plan from the LA.")
    both: Count = Field(description="People counted by both.")
    la_only: Count = Field(description="Discrepancy: counted by the LA, not by health.")
    health_only: Count = Field(description="Discrepancy: counted by health, not by the LA.")


class ActivePlans(Figures):
    figures: list[ActivePlansFigure]


class DiscrepancyPeople(BaseModel):
    month: str
    la: str
    la_only: list[str] = Field(description="Person keys the LA counts and health does not.")
    health_only: list[str] = Field(description="Person keys health counts and the LA does not.")


class DiscrepancyList(BaseModel):
    as_at_stream_sequence: int
    people: list[DiscrepancyPeople]


def active_plans(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> ActivePlans:
    """Indicator 1: people with a plan by LA and by health, and who is on one side only."""
    partnership.check(la)
    position, tally = read(read_model, counts, months)
    relations = fixed(("la_count", ("both", "la_only")), ("health_count", ("both", "health_only")))
    rows = [
        ActivePlansFigure(month=month, area=a.area, area_name=a.area_name, **a.cells)
        for month, _, a in area_rows(
            tally,
            months,
            [""],
            ["la_count", "health_count", "both", "la_only", "health_only"],
            partnership,
            la,
            relations,
        )
    ]
    return ActivePlans(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


def discrepancy_people(
    read_model: DatasetReadModel, month: Month, partnership: Partnership, la: str | None = None
) -> DiscrepancyList:
    """Indicator 1's discrepancy as person keys (not an aggregate: for authorised users only)."""
    areas = [code for code, _ in partnership.areas(la)]
    position, (plans, flags) = read(
        read_model,
        lambda s, _: (plans_in_force(s, [month]), flags_in_force(s, [month])),
        [month],
    )
    sides = plan_sides(plans, flags, [month])[str(month)]
    empty = Sides(frozenset(), frozenset())
    people = [
        DiscrepancyPeople(
            month=str(month),
            la=code,
            la_only=sorted(sides.get(code, empty).la_only),
            health_only=sorted(sides.get(code, empty).health_only),
        )
        for code in areas
    ]
    return DiscrepancyList(as_at_stream_sequence=position, people=people)


INDICATOR = Monthly(
    DEFINITION, counts, active_plans, ActivePlans,
    "Indicator 1: active EHC plans, LA and health, and the discrepancy",
    Measure((("la_count", "LA count"), ("health_count", "Health count"))),
)
