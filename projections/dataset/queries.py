"""The shared dataset's indicators, per LA and for the partnership, by month, as published.

Each query reads one consistent snapshot (the facts and the stream position they reflect),
counts them (`counting.py`), adds the partnership row and suppresses small numbers
(`areas.publish_areas`). An LA with nothing to count still gets a row, so a dashboard never
mistakes "none" for "missing".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, get_args

from contracts.vocab import AdviceGiver, Pathway
from projections.dataset import counting, figures, snapshot, tallies
from projections.dataset.areas import Partnership, PublishedArea, Relations, publish_areas
from projections.dataset.indicators import (
    ACTIVE_PLANS,
    ADVICE_TIMELINESS,
    ALTERNATIVE_PROVISION,
    AMENDMENT_TIMELINESS,
    DECISION_TIMELINESS,
    HEALTH_WAITS,
    REVIEW_TIMELINESS,
    TWENTY_WEEK_TIMELINESS,
    IndicatorDefinition,
)
from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot
from projections.suppression import enough_values, percentage

ADVICE_GIVERS: tuple[str, ...] = get_args(AdviceGiver)
PATHWAYS: tuple[str, ...] = get_args(Pathway)


class DatasetReadModel(Protocol):
    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


def _read(read_model: DatasetReadModel, tally: Any, months: Sequence[Month]) -> tuple[int, Any]:
    """The position and the exact counts, read in one snapshot."""
    with read_model.snapshot() as snap:
        return snap.position(), tally(snap, months)


def _rows(
    tally: counting.Tally,
    months: Sequence[Month],
    groups: Sequence[str],
    measures: Sequence[str],
    partnership: Partnership,
    la: str | None,
    relations: Relations,
) -> Iterator[tuple[str, str, PublishedArea]]:
    for month in map(str, months):
        for group in groups:
            counts = tally.get((month, group), {})
            for area in publish_areas(counts, measures, partnership, la, relations):
                yield month, group, area


def fixed(*sums: tuple[str, Sequence[str]]) -> Relations:
    """The same sums whatever measures are present."""
    return lambda _: sums


def _timed(total: str, *untimed: str) -> Relations:
    """total = untimed parts + counted; counted = within + late."""
    return lambda _: [(total, (*untimed, "counted")), ("counted", ("within", "late"))]


def _stat(values: list[float], fn: Any) -> float | None:
    return round(fn(values), 1) if enough_values(values) else None


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def _area_values(values: counting.Values, key: tuple[str, str], area: str) -> list[float]:
    """The raw values behind one published row (the partnership: every LA's and unknown's)."""
    by_la = values.get(key, {})
    if area == "partnership":
        return [v for vs in by_la.values() for v in vs]
    return list(by_la.get(None if area == "unknown" else area, []))


def active_plans(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.ActivePlans:
    """Indicator 1: people with a plan by LA and by health, and who is on one side only."""
    partnership.check(la)
    position, tally = _read(read_model, tallies.active_plans, months)
    relations = fixed(("la_count", ("both", "la_only")), ("health_count", ("both", "health_only")))
    rows = [
        figures.ActivePlansFigure(month=month, area=a.area, area_name=a.area_name, **a.cells)
        for month, _, a in _rows(
            tally,
            months,
            [""],
            ["la_count", "health_count", "both", "la_only", "health_only"],
            partnership,
            la,
            relations,
        )
    ]
    return figures.ActivePlans(indicator=ACTIVE_PLANS, as_at_stream_sequence=position, figures=rows)


def discrepancy_people(
    read_model: DatasetReadModel, month: Month, partnership: Partnership, la: str | None = None
) -> figures.DiscrepancyList:
    """Indicator 1's discrepancy as person keys (not an aggregate: for authorised users only)."""
    areas = [code for code, _ in partnership.areas(la)]
    position, (plans, flags) = _read(
        read_model,
        lambda s, _: (snapshot.plans_in_force(s, [month]), snapshot.flags_in_force(s, [month])),
        [month],
    )
    sides = counting.plan_sides(plans, flags, [month])[str(month)]
    empty = counting.Sides(frozenset(), frozenset())
    people = [
        figures.DiscrepancyPeople(
            month=str(month),
            la=code,
            la_only=sorted(sides.get(code, empty).la_only),
            health_only=sorted(sides.get(code, empty).health_only),
        )
        for code in areas
    ]
    return figures.DiscrepancyList(as_at_stream_sequence=position, people=people)


@dataclass(frozen=True)
class Timed:
    """How a timeliness indicator's counts become its published figure."""

    indicator: IndicatorDefinition
    tally: Any
    figure: type
    result: type
    fields: dict[str, str]
    """measure -> field of the figure ("within" -> e.g. within_six_weeks)."""
    relations: Relations
    denominator: str = "counted"
    groups: tuple[str, ...] = ("",)
    group_field: str | None = None


def _timed_indicator(
    spec: Timed,
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None,
) -> Any:
    partnership.check(la)
    position, tally = _read(read_model, spec.tally, months)
    rows = []
    for month, group, a in _rows(
        tally, months, spec.groups, list(spec.fields), partnership, la, spec.relations
    ):
        fields = {field: a.cells[measure] for measure, field in spec.fields.items()}
        if spec.group_field:
            fields[spec.group_field] = group
        rows.append(
            spec.figure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                **fields,
                percent_within=percentage(a.cells["within"], a.cells[spec.denominator]),
            )
        )
    return spec.result(indicator=spec.indicator, as_at_stream_sequence=position, figures=rows)


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


TWENTY_WEEKS = Timed(
    TWENTY_WEEK_TIMELINESS,
    tallies.twenty_week,
    figures.TimelinessFigure,
    figures.TwentyWeekTimeliness,
    {
        **_same("issued", "exceptions", "no_request_recorded", "counted"),
        "within": "within_twenty_weeks",
    },
    _timed("issued", "exceptions", "no_request_recorded"),
)
DECISIONS = Timed(
    DECISION_TIMELINESS,
    tallies.decisions,
    figures.DecisionFigure,
    figures.DecisionTimeliness,
    {**_same("decided", "no_request_recorded", "counted"), "within": "within_six_weeks"},
    _timed("decided", "no_request_recorded"),
)
ADVICE = Timed(
    ADVICE_TIMELINESS,
    tallies.advice,
    figures.AdviceFigure,
    figures.AdviceTimeliness,
    {**_same("returned", "no_request_recorded", "counted"), "within": "within_six_weeks"},
    _timed("returned", "no_request_recorded"),
    groups=ADVICE_GIVERS,
    group_field="advice_giver",
)
REVIEWS = Timed(
    REVIEW_TIMELINESS,
    tallies.reviews,
    figures.ReviewFigure,
    figures.ReviewTimeliness,
    {**_same("held", "no_issue_recorded", "counted"), "within": "within_twelve_months"},
    _timed("held", "no_issue_recorded"),
)
AMENDMENTS = Timed(
    AMENDMENT_TIMELINESS,
    tallies.amendments,
    figures.AmendmentFigure,
    figures.AmendmentTimeliness,
    {"amended": "amended", "within": "within_twelve_weeks"},
    fixed(("amended", ("within", "late"))),
    denominator="amended",
)


def twenty_week_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.TwentyWeekTimeliness:
    """Indicator 2: new plans issued within 20 weeks, exceptions apart, by month of issue."""
    return _timed_indicator(TWENTY_WEEKS, read_model, months, partnership, la)


def decision_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.DecisionTimeliness:
    """Indicator 3: decisions whether to assess within 6 weeks of the request."""
    return _timed_indicator(DECISIONS, read_model, months, partnership, la)


def advice_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.AdviceTimeliness:
    """Indicator 3: advice returned within 6 weeks of the LA's request, by advice giver."""
    return _timed_indicator(ADVICE, read_model, months, partnership, la)


def review_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.ReviewTimeliness:
    """Indicator 4: annual reviews held within 12 months of issue or the previous review."""
    return _timed_indicator(REVIEWS, read_model, months, partnership, la)


def amendment_timeliness(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.AmendmentTimeliness:
    """Indicator 4: amended plans issued within 12 weeks of the review meeting."""
    return _timed_indicator(AMENDMENTS, read_model, months, partnership, la)


def health_waits(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.HealthWaits:
    """Indicator 5: people waiting (with bands) and how long first assessments took."""
    partnership.check(la)
    position, (tally, waits) = _read(read_model, tallies.waits, months)
    bands = [name for _, _, name in counting.WEEK_BANDS]
    relations = fixed(("waiting", bands))
    rows = []
    for month, pathway, a in _rows(
        tally, months, PATHWAYS, ["waiting", *bands, "started"], partnership, la, relations
    ):
        values = _area_values(waits, (month, pathway), a.area)
        shown = isinstance(a.cells["started"], int)
        rows.append(
            figures.WaitsFigure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                pathway=pathway,
                **{m: a.cells[m] for m in ["waiting", *bands, "started"]},
                median_weeks=_stat(values, statistics.median) if shown else None,
                p90_weeks=_stat(values, _p90) if shown else None,
            )
        )
    return figures.HealthWaits(indicator=HEALTH_WAITS, as_at_stream_sequence=position, figures=rows)


def _ap_relations(measures: set[str]) -> list[tuple[str, Sequence[str]]]:
    providers = sorted(m for m in measures if m.startswith("provider:"))
    return [
        ("active", ("tier_1", "tier_2", "tier_3")),
        ("active", ("part_time", "full_time")),
        ("active", providers),
        ("ended", ("reintegrated", "not_reintegrated")),
    ]


def alternative_provision(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> figures.AlternativeProvision:
    """Indicator 6: AP placements active by tier and provider, part-time, reintegration."""
    partnership.check(la)
    position, (tally, lengths) = _read(read_model, tallies.alternative_provision, months)
    measures = [
        "active",
        "tier_1",
        "tier_2",
        "tier_3",
        "part_time",
        "full_time",
        "part_time_timetables",
        "ended",
        "reintegrated",
        "not_reintegrated",
    ]
    rows = []
    for month, _, a in _rows(tally, months, [""], measures, partnership, la, _ap_relations):
        c = a.cells
        values = _area_values(lengths, (month, ""), a.area)
        rows.append(
            figures.ApFigure(
                month=month,
                area=a.area,
                area_name=a.area_name,
                active=c["active"],
                active_tier_1=c["tier_1"],
                active_tier_2=c["tier_2"],
                active_tier_3=c["tier_3"],
                active_part_time=c["part_time"],
                active_by_provider={
                    m.split(":", 1)[1]: v for m, v in sorted(c.items()) if m.startswith("provider:")
                },
                part_time_timetables=c["part_time_timetables"],
                ended=c["ended"],
                reintegrated=c["reintegrated"],
                reintegration_rate=percentage(c["reintegrated"], c["ended"]),
                median_weeks_in_placement=(
                    _stat(values, statistics.median) if isinstance(c["ended"], int) else None
                ),
            )
        )
    return figures.AlternativeProvision(
        indicator=ALTERNATIVE_PROVISION, as_at_stream_sequence=position, figures=rows
    )
