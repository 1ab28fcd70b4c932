"""What the API publishes for each indicator: suppressed counts (`Count`) with the definition.

A `Count` is a number, "<5" (below 5) or "c" (hidden so that a small count cannot be worked
out from a total); see `projections.suppression`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from projections.dataset.indicators import IndicatorDefinition
from projections.suppression import Cell

Count = Annotated[
    Cell, Field(description='A count, "<5" (below 5) or "c" (hidden, see definition).')
]
Percent = Annotated[
    float | None, Field(description="One decimal; null when hidden or nothing counted.")
]
Weeks = Annotated[
    float | None, Field(description="Weeks, one decimal; null for fewer than 5 values.")
]


class Figures(BaseModel):
    indicator: IndicatorDefinition
    as_at_stream_sequence: int = Field(
        description="The SEND_EVENTS sequence the read model had applied when this was read."
    )


class AreaFigure(BaseModel):
    month: str = Field(description="YYYY-MM.")
    area: str = Field(description="LA code, `unknown` (no LA knows the person) or `partnership`.")
    area_name: str


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


class TimelinessFigure(AreaFigure):
    issued: Count = Field(description="New EHC plans issued in the month.")
    exceptions: Count = Field(description="Of which a reg. 13(3) exception applied (not counted).")
    no_request_recorded: Count = Field(description="Of which the request is not in the dataset.")
    counted: Count = Field(description="issued - exceptions - no_request_recorded.")
    within_twenty_weeks: Count
    percent_within: Percent


class TwentyWeekTimeliness(Figures):
    figures: list[TimelinessFigure]


class DecisionFigure(AreaFigure):
    decided: Count
    no_request_recorded: Count
    counted: Count
    within_six_weeks: Count
    percent_within: Percent


class DecisionTimeliness(Figures):
    figures: list[DecisionFigure]


class AdviceFigure(AreaFigure):
    advice_giver: str
    returned: Count
    no_request_recorded: Count
    counted: Count
    within_six_weeks: Count
    percent_within: Percent


class AdviceTimeliness(Figures):
    figures: list[AdviceFigure]


class ReviewFigure(AreaFigure):
    held: Count
    no_issue_recorded: Count
    counted: Count
    within_twelve_months: Count
    percent_within: Percent


class ReviewTimeliness(Figures):
    figures: list[ReviewFigure]


class AmendmentFigure(AreaFigure):
    amended: Count
    within_twelve_weeks: Count
    percent_within: Percent


class AmendmentTimeliness(Figures):
    figures: list[AmendmentFigure]


class WaitsFigure(AreaFigure):
    pathway: str
    waiting: Count = Field(description="Waiting at the month end.")
    waiting_0_18_weeks: Count
    waiting_18_52_weeks: Count
    waiting_52_plus_weeks: Count
    started: Count = Field(description="First assessments in the month.")
    median_weeks: Weeks
    p90_weeks: Weeks


class HealthWaits(Figures):
    figures: list[WaitsFigure]


class ApFigure(AreaFigure):
    active: Count = Field(description="Placements active at the month end.")
    active_tier_1: Count
    active_tier_2: Count
    active_tier_3: Count
    active_part_time: Count
    active_by_provider: dict[str, Count]
    part_time_timetables: Count = Field(description="Part-time timetables active at month end.")
    ended: Count = Field(description="Placements that ended in the month.")
    reintegrated: Count
    reintegration_rate: Percent
    median_weeks_in_placement: Weeks


class AlternativeProvision(Figures):
    figures: list[ApFigure]
