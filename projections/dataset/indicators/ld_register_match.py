"""Indicator 10: the learning-disability register against the LA's plans: people with a
learning disability diagnosis known to health and not to the LA's plans, and the reverse.

The definition shown beside the figures, who each side counts at a month end (the LD register
and the plans in force naming a learning difficulty as primary need), the published counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field

from projections.dataset.areas import Partnership
from projections.dataset.counting import Tally, active_on, new_tally
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import LdRegisterFact, PlanFact
from projections.dataset.figures import AreaFigure, Count, Figures
from projections.dataset.periods import Month
from projections.dataset.publishing import DatasetReadModel, area_rows, fixed, read
from projections.dataset.snapshot import ld_register_by, plans_in_force
from projections.readmodel.store import Snapshot

LEARNING_DIFFICULTY = frozenset({"MLD", "SLD", "PMLD"})
"""SEN2 primary needs that are a learning difficulty: moderate, severe, profound and multiple."""

DEFINITION = define(
    "ld-register-match",
    10,
    "Learning-disability register against the LA's EHC plans",
    "For each local authority and month, on the last day of the month: health count = people "
    "on the learning-disability register (a health.diagnosis_recorded of a learning "
    "disability dated on or before that day), counted under their LA; LA count = people with "
    "an EHC plan the LA maintains on that day whose primary need is a learning difficulty "
    "(SEN2 MLD, SLD or PMLD). Both = counted by both sides (under the plan's LA); health only "
    "= on the register and not in the LA count, split into those with no plan maintained on "
    "that day and those whose plan names another primary need; LA only = in the LA count and "
    "not on the register. People are matched by their pseudonymous person key.",
    "Children and Families Act 2014 s.23 (health bodies tell the LA of a child they think has "
    "SEN) and s.25-26 (integration, joint commissioning); SEN2 primary type of need.",
    "as at the last day of the month",
)


def match_counts(
    register: Iterable[LdRegisterFact], plans: Iterable[PlanFact], months: Sequence[Month]
) -> Tally:
    """Per month end and LA: each side, both, and who is on one side only."""
    register, plans = list(register), list(plans)
    tally = new_tally()
    for month in months:
        end, key = month.last_day, (str(month), "")
        in_force = [p for p in plans if active_on(end, p.issued_on, p.ceased_on)]
        with_plan = {p.person_key for p in in_force}
        la_side = {p.person_key: p.la_code for p in in_force
                   if p.primary_need in LEARNING_DIFFICULTY}
        health_side = {r.person_key: r.la_code for r in register if r.on_register_from <= end}
        for person, la in la_side.items():
            both = person in health_side
            tally[key][la].update(["la_count", "both" if both else "la_only"])
            if both:
                tally[key][la]["health_count"] += 1
        for person, la in health_side.items():
            if person in la_side:
                continue
            why = "other_need" if person in with_plan else "no_plan"
            tally[key][la].update(["health_count", "health_only", why])
    return tally


def counts(s: Snapshot, months: Sequence[Month]) -> Tally:
    """The exact counts, unsuppressed."""
    return match_counts(ld_register_by(s, months), plans_in_force(s, months), months)


class LdMatchFigure(AreaFigure):
    health_count: Count = Field(description="On the LD register at the month end.")
    la_count: Count = Field(description="With a plan whose primary need is MLD, SLD or PMLD.")
    both: Count = Field(description="Counted by both.")
    health_only: Count = Field(description="On the register, not in the LA count.")
    no_plan: Count = Field(description="Health only: no EHC plan maintained.")
    other_need: Count = Field(description="Health only: a plan naming another primary need.")
    la_only: Count = Field(description="In the LA count, not on the register.")


class LdMatch(Figures):
    figures: list[LdMatchFigure]


MEASURES = ("health_count", "la_count", "both", "health_only", "no_plan", "other_need", "la_only")


def ld_register_match(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> LdMatch:
    """Indicator 10: the LD register against the LA's plans, by LA and month."""
    partnership.check(la)
    position, tally = read(read_model, counts, months)
    relations = fixed(
        ("health_count", ("both", "health_only")),
        ("la_count", ("both", "la_only")),
        ("health_only", ("no_plan", "other_need")),
    )
    rows = [
        LdMatchFigure(month=month, area=a.area, area_name=a.area_name, **a.cells)
        for month, _, a in area_rows(tally, months, [""], MEASURES, partnership, la, relations)
    ]
    return LdMatch(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


INDICATOR = Monthly(
    DEFINITION, counts, ld_register_match, LdMatch,
    "Indicator 10: the LD register against the LA's plans, and who is on one side only",
    Measure((("health_only", "Health only"), ("la_only", "LA only"))),
)
