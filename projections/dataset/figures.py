"""What every published figure shares: suppressed counts (`Count`), the definition, the
stream position, the month and area of each row (each indicator's own figure is in its module).

A `Count` is a number, "<5" (below 5) or "c" (hidden so that a small count cannot be worked
out from a total); see `projections.suppression`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from projections.dataset.definition import IndicatorDefinition
from projections.dataset.reference import ReferenceFigure
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


class TargetCheck(BaseModel):
    """One figure against the partnership's target in force on its month."""

    month: str
    area: str
    group: str = Field("", description="Advice giver or pathway where the figure has one.")
    figure: str = Field(description="The figure's field, e.g. percent_within.")
    period: str = Field("month", description="`month`, or the longer period ending in it: "
                        "`year_to_date` or `rolling_12_months`.")
    value: float | None = Field(description="The figure as published; null when not shown.")
    target: float = Field(description="The target (or trajectory point) in force that month.")
    target_from: str = Field(description="The month that target applies from, YYYY-MM.")
    rag: str | None = Field(
        description="green: meets the target; amber: short by no more than the margin; red: "
        "further off; null: no figure to judge.")
    source: str = Field(description="Where the target comes from (e.g. an improvement plan).")


class PeriodFigure(BaseModel):
    """A timeliness figure over a longer period ending in a month, suppressed the same way."""

    month: str = Field(description="The last month of the period, YYYY-MM.")
    period: str = Field(description="`year_to_date` (from April, the financial year) or "
                        "`rolling_12_months` (the 12 months ending in `month`).")
    area: str
    area_name: str
    group: str = ""
    counted: Count
    within: Count
    percent_within: Percent


class Figures(BaseModel):
    indicator: IndicatorDefinition
    as_at_stream_sequence: int = Field(
        description="The SEND_EVENTS sequence the read model had applied when this was read."
    )
    targets: list[TargetCheck] = Field(
        default_factory=list,
        description="Each figure with a partnership target, against the target in force on "
        "its month (deploy/partnership/targets.toml), with a RAG.")
    periods: list[PeriodFigure] = Field(
        default_factory=list,
        description="Timeliness indicators: year to date and rolling 12 months ending in each "
        "month, beside the monthly figures.")
    england: list[ReferenceFigure] = Field(
        default_factory=list,
        description="England's published figures for this indicator (deploy/reference/"
        "england.toml), with source, period and whether the definition matches.")
    no_england_comparator: str = Field(
        "", description="Where England publishes no figure that could stand beside this "
        "indicator (in the project's reference sources): why, shown as 'No England comparator'.")


class AreaFigure(BaseModel):
    month: str = Field(description="YYYY-MM.")
    area: str = Field(description="LA code, `unknown` (no LA knows the person) or `partnership`.")
    area_name: str
