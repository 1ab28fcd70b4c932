"""The shared dataset's indicators, per LA and for the partnership, by month.

Each query reads one consistent snapshot (figures and the stream position they reflect), then
arranges the counts into figures: one per month and LA, plus the partnership's sum. An LA with
nothing to count still gets a row of zeros, so a dashboard never mistakes "none" for "missing".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from contracts.topology import DEMO_PARTNERSHIP, Organisation, OrgKind
from projections.dataset.indicators import (
    ACTIVE_PLANS,
    TWENTY_WEEK_TIMELINESS,
    ActivePlans,
    ActivePlansFigure,
    TimelinessFigure,
    TwentyWeekTimeliness,
)
from projections.dataset.periods import Month
from projections.dataset.snapshot import DatasetSnapshot, TimelinessCounts

PARTNERSHIP_AREA = "partnership"
DEMO_PARTNERSHIP_NAME = "Leicester, Leicestershire and Rutland"


class UnknownArea(LookupError):
    """The LA asked about is not one of the partnership's local authorities."""


class DatasetReadModel(Protocol):
    def snapshot(self) -> AbstractContextManager[DatasetSnapshot]: ...


@dataclass(frozen=True)
class Partnership:
    name: str
    local_authorities: Mapping[str, str]
    """LA code -> name."""

    @classmethod
    def of(
        cls,
        organisations: Sequence[Organisation] = DEMO_PARTNERSHIP,
        name: str = DEMO_PARTNERSHIP_NAME,
    ) -> Partnership:
        las = {org.code: org.name for org in organisations if org.kind is OrgKind.LA}
        return cls(name, dict(sorted(las.items())))

    def areas(self, la: str | None = None) -> list[tuple[str, str]]:
        """(code, name) of the LA asked for, or of every LA when `la` is None."""
        if la is None:
            return list(self.local_authorities.items())
        if la not in self.local_authorities:
            known = ", ".join(self.local_authorities)
            raise UnknownArea(f"LA {la!r} is not in the partnership {self.name} (known: {known})")
        return [(la, self.local_authorities[la])]


def active_plans(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> ActivePlans:
    """Indicator 1: active plans by LA and by health, as at each month end."""
    areas = partnership.areas(la)
    with read_model.snapshot() as snapshot:
        position = snapshot.position()
        by_la = snapshot.active_plan_counts(months)
        by_health = snapshot.health_flag_counts(months)
    figures: list[ActivePlansFigure] = []
    for month in map(str, months):
        rows = [
            ActivePlansFigure(
                month=month, area=code, area_name=name,
                la_count=by_la.get((month, code), 0), health_count=by_health.get((month, code), 0),
            )
            for code, name in areas
        ]
        figures.extend(rows)
        if la is None:
            figures.append(ActivePlansFigure(
                month=month, area=PARTNERSHIP_AREA, area_name=partnership.name,
                la_count=sum(r.la_count for r in rows),
                health_count=sum(r.health_count for r in rows),
            ))
    return ActivePlans(indicator=ACTIVE_PLANS, as_at_stream_sequence=position, figures=figures)


def twenty_week_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> TwentyWeekTimeliness:
    """Indicator 2: new plans issued within 20 weeks, exceptions apart, by month of issue."""
    areas = partnership.areas(la)
    with read_model.snapshot() as snapshot:
        position = snapshot.position()
        counts = snapshot.timeliness_counts(months)
    by_month_area = {(c.month, c.la_code): c for c in counts}
    figures: list[TimelinessFigure] = []
    for month in map(str, months):
        found = [(code, name, by_month_area.get((month, code))) for code, name in areas]
        figures.extend(
            _timeliness(month, code, name, [c] if c else []) for code, name, c in found
        )
        if la is None:
            figures.append(_timeliness(
                month, PARTNERSHIP_AREA, partnership.name, [c for _, _, c in found if c]
            ))
    return TwentyWeekTimeliness(
        indicator=TWENTY_WEEK_TIMELINESS, as_at_stream_sequence=position, figures=figures
    )


def _timeliness(
    month: str, area: str, area_name: str, counts: Sequence[TimelinessCounts]
) -> TimelinessFigure:
    issued = sum(c.issued for c in counts)
    exceptions = sum(c.exceptions for c in counts)
    no_request = sum(c.no_request_recorded for c in counts)
    within = sum(c.within_twenty_weeks for c in counts)
    counted = issued - exceptions - no_request
    return TimelinessFigure(
        month=month, area=area, area_name=area_name,
        issued=issued, exceptions=exceptions, no_request_recorded=no_request,
        counted=counted, within_twenty_weeks=within,
        percent_within=round(100 * within / counted, 1) if counted else None,
    )
