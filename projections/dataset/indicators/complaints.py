"""Indicator 12: complaints about SEND services received by the LA and by health, how they
were resolved and how long that took.

The definition shown beside the figures, the counting from the complaint facts (and the
decisions a rate is taken against) and the published, suppressed figure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from pydantic import Field

from contracts.disagreement import ComplaintOutcome
from projections.dataset.areas import Partnership
from projections.dataset.counting import (
    Tally,
    Values,
    count_closed,
    days_between,
    month_of,
    new_tally,
    new_values,
)
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import ComplaintFact, DecisionFact, PlanFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent
from projections.dataset.indicators.mediation_and_appeals import DECISIONS_RULE, decision_counts
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    DatasetReadModel,
    area_rows,
    area_values,
    fixed,
    read,
    stat,
)
from projections.dataset.snapshot import complaints_within, decisions_made, plans_issued
from projections.readmodel.store import Snapshot
from projections.suppression import percentage

OUTCOMES: tuple[str, ...] = ComplaintOutcome.__args__  # type: ignore[attr-defined]

DEFINITION = define(
    "complaints",
    12,
    "Complaints about SEND services, and their resolution",
    "For each local authority and month: received = disagreement.complaint_received dated in "
    "the month, by whom (the LA itself, or health: the ICB or an NHS trust, counted under the "
    "person's LA); resolved = disagreement.complaint_resolved dated in the month, by outcome "
    "(upheld, partly upheld, not upheld, withdrawn). "
    f"{DECISIONS_RULE} Upheld share = upheld and partly upheld / resolved x 100. Time to "
    "resolution = median days from receipt to resolution of the complaints resolved in the "
    "month.",
    "Local Authority Social Services and NHS Complaints (England) Regulations 2009; Leicester "
    "accelerated progress plan (seed 004): 'complaints and Tribunal information to inform "
    "future commissioning'.",
    "events dated in the calendar month",
)


def complaint_counts(
    complaints: Iterable[ComplaintFact], decisions: Iterable[DecisionFact],
    plans: Iterable[PlanFact], months: Sequence[Month],
) -> tuple[Tally, Values]:
    """Per month and LA: complaints received (by whom) and resolved (by outcome), decisions;
    the days each complaint resolved took."""
    tally, days = new_tally(), new_values()
    decision_counts(tally, decisions, plans, months)
    for c in complaints:
        if (month := month_of(c.received_on, months)) is not None:
            by = "received_by_la" if c.org == c.la_code else "received_by_health"
            tally[(month, "")][c.la_code].update(["received", by])
        count_closed(tally, days, c.la_code, c.received_on, c.resolved_on, c.outcome, months,
                     "resolved", days_between)
    return tally, days


def counts(s: Snapshot, months: Sequence[Month]) -> tuple[Tally, Values]:
    """The exact counts, unsuppressed, and the days each complaint resolved took."""
    return complaint_counts(
        complaints_within(s, months), decisions_made(s, months), plans_issued(s, months), months
    )


class ComplaintsFigure(AreaFigure):
    decisions: Count = Field(description="Decisions whether to assess and plans issued.")
    received: Count = Field(description="Complaints received in the month.")
    received_by_la: Count
    received_by_health: Count
    resolved: Count = Field(description="Complaints resolved in the month.")
    resolved_by_outcome: dict[str, Count]
    complaints_per_100_decisions: Percent
    percent_upheld: Percent = Field(description="Upheld or partly upheld / resolved x 100.")
    median_days_to_resolution: float | None = Field(
        description="Days, one decimal; null for fewer than 5 values or a hidden count."
    )


class Complaints(Figures):
    figures: list[ComplaintsFigure]


MEASURES = ("decisions", "received", "received_by_la", "received_by_health", "resolved")


def complaints(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> Complaints:
    """Indicator 12: complaints received and resolved by LA and month."""
    partnership.check(la)
    position, (tally, days) = read(read_model, counts, months)
    outcomes = [f"outcome:{o}" for o in OUTCOMES]
    relations = fixed(
        ("received", ("received_by_la", "received_by_health")), ("resolved", outcomes)
    )
    rows = []
    for month, _, a in area_rows(
        tally, months, [""], [*MEASURES, *outcomes], partnership, la, relations
    ):
        c = a.cells
        upheld = a.raw["outcome:upheld"] + a.raw["outcome:partly_upheld"]
        shown = all(isinstance(c[m], int) for m in ("resolved", "outcome:upheld",
                                                     "outcome:partly_upheld"))
        values = area_values(days, (month, ""), a.area)
        rows.append(
            ComplaintsFigure(
                month=month, area=a.area, area_name=a.area_name,
                **{m: c[m] for m in MEASURES},
                resolved_by_outcome={o: c[f"outcome:{o}"] for o in OUTCOMES},
                complaints_per_100_decisions=percentage(c["received"], c["decisions"]),
                percent_upheld=percentage(upheld, c["resolved"]) if shown else None,
                median_days_to_resolution=(
                    stat(values, statistics.median) if isinstance(c["resolved"], int) else None
                ),
            )
        )
    return Complaints(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


INDICATOR = Monthly(
    DEFINITION, counts, complaints, Complaints,
    "Indicator 12: complaints received and resolved, per 100 decisions",
    Measure((("received", "Received"), ("resolved", "Resolved"))),
)
