"""Dynamic support register: people on it on a day by RAG rating and by age band, per LA and
partnership (the register of people with a learning disability or autism at risk of admission).

The definition shown beside the figures, the counting from each person's latest rating (the
tracker's facts: `projections.tracker.queries.support_register` builds the entries) and the
published, suppressed figure. Served as of a day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.counting import banded
from projections.dataset.definition import IndicatorDefinition, define
from projections.dataset.figures import Count
from projections.dataset.publishing import fixed

DEFINITION = define(
    "support-register",
    5,
    "Dynamic support register: people by RAG rating and age band",
    "On the as-of date (default: the latest data date): on the register = people whose latest "
    "dynamic support register rating (health.dsr_status_changed) on or before the day is red, "
    "amber or green (removed: not on it), counted under their LA, by that rating and by age on "
    "the day (a birthday taken as the last day of the birth month): 0-13, 14-17, 18-25 and 26+.",
    "NHS England dynamic support register and Care (Education) and Treatment Reviews policy; "
    "Northamptonshire's 'improved use of dynamic risk register'.",
    "as at the as-of date",
)

RATINGS = ("red", "amber", "green")
AGE_BANDS = ((0, 14, "aged_0_13"), (14, 18, "aged_14_17"), (18, 26, "aged_18_25"),
             (26, None, "aged_26_plus"))
MEASURES = ("on_register", *RATINGS, *(name for _, _, name in AGE_BANDS))


@dataclass(frozen=True)
class RegisterRating:
    la_code: str | None
    rating: str
    age: int


def rating_counts(entries: Iterable[RegisterRating]) -> dict[str | None, Counter[str]]:
    counts: dict[str | None, Counter[str]] = {}
    for e in entries:
        counts.setdefault(e.la_code, Counter()).update(
            ["on_register", e.rating, banded(e.age, AGE_BANDS)])
    return counts


class SupportRegisterFigure(BaseModel):
    area: str
    area_name: str
    on_register: Count
    red: Count
    amber: Count
    green: Count
    aged_0_13: Count
    aged_14_17: Count
    aged_18_25: Count
    aged_26_plus: Count


class SupportRegister(BaseModel):
    indicator: IndicatorDefinition
    as_of: date
    as_at_stream_sequence: int
    figures: list[SupportRegisterFigure]


def support_register_figures(entries: Iterable[RegisterRating], partnership: Partnership,
                             la: str | None) -> list[SupportRegisterFigure]:
    """Per LA (or `la`'s only) and the partnership, suppressed."""
    relations = fixed(("on_register", RATINGS),
                      ("on_register", tuple(name for _, _, name in AGE_BANDS)))
    return [
        SupportRegisterFigure(area=a.area, area_name=a.area_name, **a.cells)
        for a in publish_areas(rating_counts(entries), MEASURES, partnership, la, relations)
    ]
