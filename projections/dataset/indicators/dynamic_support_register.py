"""Indicator 9: people on the dynamic support register by RAG rating and age band.

One indicator, two uses: by month from the register's spells in the dataset (each rating by
each age band, with the totals both ways, so that no small cell can be worked out from the
others) and as of a day from the tracker's facts (`/api/tracker/support-register`,
`projections.tracker.queries.support_register_on` builds the entries). Each with its
definition, its counting and its published, suppressed figure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from projections.dataset.areas import Partnership, publish_areas
from projections.dataset.counting import Tally, active_on, age_on, banded, new_tally
from projections.dataset.definition import IndicatorDefinition, Measure, Monthly, define
from projections.dataset.facts import DsrSpellFact
from projections.dataset.figures import AreaFigure, Count, Figures
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, fixed, read
from projections.dataset.snapshot import dsr_spells_in_force
from projections.readmodel.store import Snapshot

RATINGS = ("red", "amber", "green")
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("under_14", 0, 13),
    ("14_to_17", 14, 17),
    ("18_to_25", 18, 25),
    ("over_25", 26, None),
)
"""(band, first age, last age): children, young people in transition, young adults, adults."""
UNKNOWN_AGE = "age_unknown"
BANDS = (*(band for band, _, _ in AGE_BANDS), UNKNOWN_AGE)

DEFINITION = define(
    "dynamic-support-register",
    9,
    "Dynamic support register: people by RAG rating and age band",
    "For each local authority and month, on the last day of the month: people on the dynamic "
    "support register, by their rating on that day (the latest health.dsr_status_changed "
    "dated on or before it: red = high risk of admission, amber, green; removed = not on the "
    "register), counted under their LA, by age band on that day (under 14, 14 to 17, 18 to "
    "25, over 25; 'age unknown' without a birth month). Each rating is also given by age band "
    "and each age band by rating. Ages use the birth month only: a birthday is taken as the "
    "last day of the birth month.",
    "NHS England 'Dynamic support register and Care (Education) and Treatment Review policy' "
    "(2023); Northamptonshire road map (seed 001): 'improved use of dynamic risk register'.",
    "as at the last day of the month",
)


def band_of(age: int | None) -> str:
    if age is None:
        return UNKNOWN_AGE
    return next(band for band, low, high in AGE_BANDS if age >= low and (high is None or
                                                                        age <= high))


def register_counts(spells: Iterable[DsrSpellFact], months: Sequence[Month]) -> Tally:
    """On the register at each month end, per LA: by rating, by band, and rating:band."""
    spells = list(spells)
    tally = new_tally()
    for month in months:
        end = month.last_day
        for spell in spells:
            if active_on(end, spell.from_on, spell.until_on):
                band = band_of(age_on(spell.birth_month, end))
                tally[(str(month), "")][spell.la_code].update(
                    ["on_register", spell.status, f"band:{band}", f"{spell.status}:{band}"]
                )
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return register_counts(dsr_spells_in_force(s, months), months)


def _relations(_: set[str]) -> list[tuple[str, Sequence[str]]]:
    """The register = the ratings = the bands; each rating = its bands; each band = its
    ratings."""
    return [
        ("on_register", RATINGS),
        ("on_register", [f"band:{band}" for band in BANDS]),
        *((rating, [f"{rating}:{band}" for band in BANDS]) for rating in RATINGS),
        *((f"band:{band}", [f"{rating}:{band}" for rating in RATINGS]) for band in BANDS),
    ]


class BandCounts(BaseModel):
    on_register: Count
    red: Count
    amber: Count
    green: Count


class DsrFigure(AreaFigure):
    on_register: Count = Field(description="People rated red, amber or green at the month end.")
    red: Count
    amber: Count
    green: Count
    by_age_band: dict[str, BandCounts] = Field(description="The same, by age band.")


class DynamicSupportRegister(Figures):
    figures: list[DsrFigure]


def dynamic_support_register(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> DynamicSupportRegister:
    """Indicator 9: the dynamic support register by rating and age band, LA and month."""
    partnership.check(la)
    position, tally = read(read_model, counts, months)
    rows = []
    for month, _, a in area_rows(
        tally, months, [""], ["on_register", *RATINGS], partnership, la, _relations
    ):
        c = a.cells
        bands = {
            band: BandCounts(
                on_register=c[f"band:{band}"], **{r: c[f"{r}:{band}"] for r in RATINGS}
            )
            for band in BANDS
        }
        rows.append(
            DsrFigure(
                month=month, area=a.area, area_name=a.area_name, on_register=c["on_register"],
                **{r: c[r] for r in RATINGS}, by_age_band=bands,
            )
        )
    return DynamicSupportRegister(
        indicator=DEFINITION, as_at_stream_sequence=position, figures=rows
    )


INDICATOR = Monthly(
    DEFINITION, counts, dynamic_support_register, DynamicSupportRegister,
    "Indicator 9: dynamic support register by RAG rating and age band",
    Measure((("red", "Red"), ("amber", "Amber"), ("green", "Green"))),
)


# As of a day, from the tracker's facts (`/api/tracker/support-register`).

ON_A_DAY = define(
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

DAY_BANDS = tuple(
    (low, None if high is None else high + 1, name)
    for (_, low, high), name in zip(
        AGE_BANDS, ("aged_0_13", "aged_14_17", "aged_18_25", "aged_26_plus"), strict=True)
)
"""The same bands as `AGE_BANDS`, as `banded` takes them, named as the day's figures name them."""
DAY_MEASURES = ("on_register", *RATINGS, *(name for _, _, name in DAY_BANDS))


@dataclass(frozen=True)
class RegisterRating:
    la_code: str | None
    rating: str
    age: int


def rating_counts(entries: Iterable[RegisterRating]) -> dict[str | None, Counter[str]]:
    counts: dict[str | None, Counter[str]] = {}
    for e in entries:
        counts.setdefault(e.la_code, Counter()).update(
            ["on_register", e.rating, banded(e.age, DAY_BANDS)])
    return counts


class DayFigure(BaseModel):
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
    figures: list[DayFigure]


def support_register_figures(entries: Iterable[RegisterRating], partnership: Partnership,
                             la: str | None) -> list[DayFigure]:
    """Per LA (or `la`'s only) and the partnership, suppressed."""
    relations = fixed(("on_register", RATINGS),
                      ("on_register", tuple(name for _, _, name in DAY_BANDS)))
    return [
        DayFigure(area=a.area, area_name=a.area_name, **a.cells)
        for a in publish_areas(rating_counts(entries), DAY_MEASURES, partnership, la, relations)
    ]
