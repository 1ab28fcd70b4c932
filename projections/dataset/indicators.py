"""The shared dataset's indicators: their written definitions and the shape of their figures.

Every figure is published with its definition beside it (the partnership's dashboards show
both), so the definition text here is the contract with the reader: change the query, change
the text. Figures are plain counts; suppression of small numbers ("<5") is applied when
aggregates are published, on top of these.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class IndicatorDefinition(BaseModel):
    id: str = Field(description="Stable identifier, also the API path segment.")
    number: int = Field(description="Number of the indicator in the shared dataset (1-7).")
    title: str
    definition: str = Field(description="What is counted, exactly, in plain English.")
    source: str = Field(description="Statutory basis and comparable official statistic.")
    period: str = Field(description="What one figure covers.")


ACTIVE_PLANS = IndicatorDefinition(
    id="active-plans",
    number=1,
    title="Active EHC plans according to the LA and according to health",
    definition=(
        "For each local authority and month: LA count = EHC plans the LA maintains on the last "
        "day of the month, i.e. plans whose ehc.plan_issued date is on or before that day and "
        "which have no ehc.plan_ceased dated on or before that day. Health count = people whose "
        "health record marks them as having an EHC plan from that LA on that day, i.e. a "
        "health.ehc_plan_flag_set dated on or before the day not followed by a "
        "health.ehc_plan_flag_cleared dated on or before the day. The partnership figures are "
        "the sums over its local authorities."
    ),
    source=(
        "Children and Families Act 2014 s.37 (duty to maintain a plan); comparable with SEN2 "
        "'EHC plans maintained' (taken on the January census day rather than every month end)."
    ),
    period="as at the last day of the month",
)

TWENTY_WEEK_TIMELINESS = IndicatorDefinition(
    id="twenty-week-timeliness",
    number=2,
    title="New EHC plans issued within 20 weeks (excluding exception cases)",
    definition=(
        "For each local authority and month: issued = new EHC plans whose ehc.plan_issued date "
        "falls in the month. Plans where an exception in SEND Regulations 2014 reg. 13(3) "
        "applied (child or parent away for 4 weeks or more, exceptional personal circumstances, "
        "school or college closed for 4 weeks or more) are not counted towards the percentage "
        "and are shown separately as exceptions; so are plans whose request for assessment "
        "(ehc.assessment_requested for the same LA case) has not been received by the dataset "
        "(no request recorded). Of the remaining plans (counted), within 20 weeks = those "
        "issued no more than 20 weeks (140 days) after the date the LA received the request; a "
        "plan issued exactly 140 days after the request is within time. Percentage = within 20 "
        "weeks / counted x 100, to one decimal place, and empty when nothing is counted. The "
        "partnership figures are the sums over its local authorities."
    ),
    source=(
        "SEND Regulations 2014 reg. 13(2)-(3); comparable with the SEN2 measure 'new EHC plans "
        "issued within 20 weeks, excluding exception cases'."
    ),
    period="plans issued in the calendar month",
)

INDICATORS: tuple[IndicatorDefinition, ...] = (ACTIVE_PLANS, TWENTY_WEEK_TIMELINESS)


class Figures(BaseModel):
    indicator: IndicatorDefinition
    as_at_stream_sequence: int = Field(
        description="The SEND_EVENTS sequence the read model had applied when this was read."
    )


class ActivePlansFigure(BaseModel):
    month: str = Field(description="YYYY-MM; counted as at its last day.")
    area: str = Field(description="LA code, or `partnership` for the sum over its LAs.")
    area_name: str
    la_count: int = Field(description="Active plans according to the LA.")
    health_count: int = Field(description="People flagged as having a plan by health.")


class ActivePlans(Figures):
    figures: list[ActivePlansFigure]


class TimelinessFigure(BaseModel):
    month: str = Field(description="YYYY-MM: month the plans were issued in.")
    area: str = Field(description="LA code, or `partnership` for the sum over its LAs.")
    area_name: str
    issued: int = Field(description="New EHC plans issued in the month.")
    exceptions: int = Field(description="Of which a reg. 13(3) exception applied (not counted).")
    no_request_recorded: int = Field(
        description="Of which the request for assessment is not in the dataset (not counted)."
    )
    counted: int = Field(description="issued - exceptions - no_request_recorded.")
    within_twenty_weeks: int = Field(description="Counted plans issued within 20 weeks.")
    percent_within: float | None = Field(
        description="within_twenty_weeks / counted x 100, one decimal; null when counted is 0."
    )


class TwentyWeekTimeliness(Figures):
    figures: list[TimelinessFigure]
