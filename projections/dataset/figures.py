"""What every published figure shares: suppressed counts (`Count`), the definition, the
stream position, the month and area of each row (each indicator's own figure is in its module).

A `Count` is a number, "<5" (below 5) or "c" (hidden so that a small count cannot be worked
out from a total); see `projections.suppression`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from projections.dataset.definition import IndicatorDefinition
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
