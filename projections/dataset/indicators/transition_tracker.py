"""Indicator 7: young people in the transition-from-14 tracker by RAG status, and their overdue
milestones by owning organisation and by milestone.

The definition shown beside the figures, the counting from each young person's status (the
milestone table is evaluated in `projections/tracker/`, `rules.py` and `status.py`) and the
published, suppressed figure. Served by the tracker (`projections.tracker.queries`), as of a
day rather than by month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

from pydantic import BaseModel, Field

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.definition import IndicatorDefinition, define
from projections.dataset.figures import Count

DEFINITION = define(
    "transition-tracker",
    7,
    "Transition from 14: young people by RAG status and overdue owners",
    "On the as-of date (default today): young people aged 14 to 25 with an EHC plan maintained "
    "on that day, or a recorded learning disability or autism diagnosis, counted under their "
    "LA. Each milestone of the preparing-for-adulthood table that applies to them has a due "
    "date; red = past due and not done by the as-of date; amber = not done and due within 90 "
    "days (the due date is on or after the as-of date and no more than 90 days after it); green "
    "otherwise. A young person's status is the worst of their milestones. Overdue milestones "
    "are counted by the organisation that owns them and by milestone. Ages use the birth month "
    "only: a birthday is taken as the last day of the birth month, so nobody is counted as a "
    "year older before they are.",
    "NICE NG43; Care Act 2014 s.58-59; SEND Code of Practice chapter 8; CFA 2014 s.45.",
    "as at the as-of date",
)


RAGS: tuple[str, ...] = ("green", "amber", "red")
"""The RAG statuses, from best to worst."""


class _Milestone(Protocol):
    @property
    def id(self) -> str: ...


class _MilestoneStatus(Protocol):
    @property
    def milestone(self) -> _Milestone: ...

    @property
    def owner(self) -> str: ...


class RagStatus(Protocol):
    """What the counting reads of a young person's status (`tracker.status.PersonStatus`)."""

    @property
    def la_code(self) -> str | None: ...

    @property
    def rag(self) -> str: ...

    @property
    def overdue(self) -> Sequence[_MilestoneStatus]: ...


def summary_counts(people: Iterable[RagStatus]) -> dict[str | None, Counter[str]]:
    """Per LA: people by RAG, and red milestones in all, by owner and by milestone."""
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for person in people:
        tally = counts[person.la_code]
        tally.update(["young_people", person.rag])
        for overdue in person.overdue:
            tally.update(["overdue", f"owner:{overdue.owner}", f"milestone:{overdue.milestone.id}"])
    return counts


def _relations(measures: set[str]) -> list[tuple[str, Sequence[str]]]:
    return [
        ("young_people", RAGS),
        ("overdue", sorted(m for m in measures if m.startswith("owner:"))),
        ("overdue", sorted(m for m in measures if m.startswith("milestone:"))),
    ]


class TrackerSummaryFigure(BaseModel):
    area: str = Field(description="LA code, `unknown` or `partnership`.")
    area_name: str
    young_people: Count = Field(description="Aged 14-25 with a plan, LD or autism diagnosis.")
    red: Count
    amber: Count
    green: Count
    overdue_milestones: Count
    overdue_by_owner: dict[str, Count] = Field(description="Red milestones by owning organisation.")
    overdue_by_milestone: dict[str, Count] = Field(description="Red milestones by milestone.")


class TrackerSummary(BaseModel):
    indicator: IndicatorDefinition
    as_of: date
    as_at_stream_sequence: int
    figures: list[TrackerSummaryFigure]


def summary_figures(
    people: Iterable[RagStatus], partnership: Partnership, la: str | None = None
) -> list[TrackerSummaryFigure]:
    """Per LA (and the partnership): young people by RAG, red milestones by owner and
    milestone, suppressed."""
    measures = ["young_people", *RAGS, "overdue"]
    figures = []
    for area in publish_areas(summary_counts(people), measures, partnership, la, _relations):
        c = area.cells
        figures.append(
            TrackerSummaryFigure(
                area=area.area,
                area_name=area.area_name,
                young_people=c["young_people"],
                red=c["red"],
                amber=c["amber"],
                green=c["green"],
                overdue_milestones=c["overdue"],
                overdue_by_owner={
                    k.split(":", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("owner:")
                },
                overdue_by_milestone={
                    k.split(":", 1)[1]: v
                    for k, v in sorted(c.items())
                    if k.startswith("milestone:")
                },
            )
        )
    return figures
