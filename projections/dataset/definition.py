"""What an indicator's written definition holds, shown beside every figure it publishes.

The definition text is the contract with the reader: change the counting, change the text.
Every definition ends with the suppression rule (`projections.suppression`), which applies to
every published aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot
from projections.suppression import SUPPRESSION_RULE


class IndicatorDefinition(BaseModel):
    id: str = Field(description="Stable identifier, also the API path segment.")
    number: int = Field(description="Number of the indicator in the shared dataset (1-7).")
    title: str
    definition: str = Field(description="What is counted, exactly, in plain English.")
    source: str = Field(description="Statutory basis and comparable official statistic.")
    period: str = Field(description="What one figure covers.")


def define(
    id: str,
    number: int,
    title: str,
    definition: str,
    source: str,
    period: str,
) -> IndicatorDefinition:
    partnership = (
        " The partnership figures are the sums over its local authorities (and, for health and "
        "provider facts, people no LA knows, shown as 'LA not known')."
    )
    return IndicatorDefinition(
        id=id,
        number=number,
        title=title,
        source=source,
        period=period,
        definition=f"{definition}{partnership} {SUPPRESSION_RULE}",
    )


TIMED = "Percentage = within / counted x 100, to one decimal place; empty when nothing is counted."


@dataclass(frozen=True)
class Measure:
    """What the dashboard's tile charts for a monthly indicator."""

    fields: tuple[tuple[str, str], ...]
    """(figure field, series name) charted together."""
    unit: str = ""
    split: str | None = None
    """A figure field with one row per value (advice giver, pathway): one series per value."""
    axis: str = ""
    """What the value axis measures, with its unit (default: from `unit`)."""
    latest: tuple[tuple[str, str], ...] = ()
    """(figure field, label) shown for the latest month beside the chart (per split value)."""

    @property
    def percent(self) -> bool:
        return self.unit == "%"

    @property
    def axis_title(self) -> str:
        """The value axis's title: every chart says what its numbers are and in what unit."""
        return self.axis or ("Percentage (%)" if self.percent else "Number (count)")


@dataclass(frozen=True)
class Monthly:
    """An indicator served by month: its definition, its exact counts from one snapshot, the
    query publishing them (suppressed), what that returns, the API's one-line summary and
    what the dashboard charts."""

    indicator: IndicatorDefinition
    counts: Callable[[Snapshot, Sequence[Month]], Any]
    query: Callable[..., Any]
    model: type
    summary: str
    measure: Measure
