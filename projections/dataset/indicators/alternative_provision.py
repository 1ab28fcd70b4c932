"""Indicator 6: alternative provision placements: active by tier, provider and part time,
part-time timetables, placements ended, reintegration and placement length.

The definition shown beside the figures, the counting from placement and timetable facts and
the published figure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from pydantic import Field

from projections.dataset.areas import Partnership
from projections.dataset.counting import (
    Tally,
    Values,
    active_on,
    month_of,
    new_tally,
    new_values,
    weeks_between,
)
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import PlacementFact, TimetableFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent, Weeks
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, area_values, read, stat
from projections.dataset.snapshot import placements_in_period, timetables_in_force
from projections.readmodel.store import Snapshot
from projections.suppression import percentage

DEFINITION = define(
    "alternative-provision",
    6,
    "Alternative provision placements",
    "For each commissioning local authority and month: active = AP placements started "
    "(ap.placement_started) on or before the last day of the month and not ended "
    "(ap.placement_ended) on or before it, by tier (1, 2, 3), by provider, and whether part "
    "time. Part-time timetables = provider.part_time_timetable_started on or before the day "
    "and not ended by it, counted under the pupil's LA. Ended = placements that ended in the "
    "month; reintegration rate = ended with the outcome reintegrated / ended x 100, to one "
    "decimal place; median weeks in placement from start to end of those that ended.",
    "DfE alternative provision statutory guidance (2016) and the SEND and AP improvement plan "
    "(2023) three-tier AP model; part-time timetables: DfE 'Working together to improve school "
    "attendance' (2024).",
    "active as at the month's last day; placements ended in the calendar month",
)


def ap_counts(
    placements: Iterable[PlacementFact],
    timetables: Iterable[TimetableFact],
    months: Sequence[Month],
) -> tuple[Tally, Values]:
    """Active placements (by tier, part-time, provider) and timetables at each month end;
    placements ended in the month, reintegrated, and their lengths in weeks."""
    placements, timetables = list(placements), list(timetables)
    tally, lengths = new_tally(), new_values()
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
        month = month_of(p.ended_on, months)
        if month is None or p.started_on is None:
            continue
        reintegrated = p.outcome == "reintegrated"
        tally[(month, "")][p.la_code].update(
            ["ended", "reintegrated" if reintegrated else "not_reintegrated"]
        )
        lengths[(month, "")][p.la_code].append(weeks_between(p.started_on, p.ended_on))
    return tally, lengths


def counts(
    s: Snapshot, months: Sequence[Month]
) -> tuple[Tally, Values]:
    """The exact counts, unsuppressed, and the lengths of the placements that ended."""
    placements = placements_in_period(s, months)
    return ap_counts(placements, timetables_in_force(s, months), months)


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
) -> AlternativeProvision:
    """Indicator 6: AP placements active by tier and provider, part-time, reintegration."""
    partnership.check(la)
    position, (tally, lengths) = read(read_model, counts, months)
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
    for month, _, a in area_rows(tally, months, [""], measures, partnership, la, _ap_relations):
        c = a.cells
        values = area_values(lengths, (month, ""), a.area)
        rows.append(
            ApFigure(
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
                    stat(values, statistics.median) if isinstance(c["ended"], int) else None
                ),
            )
        )
    return AlternativeProvision(
        indicator=DEFINITION, as_at_stream_sequence=position, figures=rows
    )


INDICATOR = Monthly(
    DEFINITION, counts, alternative_provision, AlternativeProvision,
    "Indicator 6: alternative provision placements",
    Measure((("active", "Active placements"),)),
)
