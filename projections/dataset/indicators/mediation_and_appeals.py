"""Indicator 11: disagreement resolution: mediation advice sought, mediations held and
tribunal appeals, as counts and per 100 decisions, with time to a decision and the share of
mediations followed by an appeal.

The definition shown beside the figures, the counting from the mediation and appeal facts
(and the decisions they are rated against) and the published, suppressed figure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from contracts.disagreement import AppealOutcome, DisagreementStage
from projections.dataset.areas import Partnership
from projections.dataset.counting import (
    Tally,
    Values,
    count_closed,
    month_of,
    new_tally,
    new_values,
    weeks_between,
)
from projections.dataset.definition import Measure, Monthly, define
from projections.dataset.facts import AppealFact, DecisionFact, MediationFact, PlanFact
from projections.dataset.figures import AreaFigure, Count, Figures, Percent, Weeks
from projections.dataset.periods import Month
from projections.dataset.publishing import (
    DatasetReadModel,
    area_rows,
    area_values,
    fixed,
    read,
    stat,
)
from projections.dataset.snapshot import (
    appeals_within,
    decisions_made,
    mediations_within,
    plans_issued,
)
from projections.readmodel.store import Snapshot
from projections.suppression import percentage

OUTCOMES: tuple[str, ...] = AppealOutcome.__args__  # type: ignore[attr-defined]
STAGES: tuple[str, ...] = DisagreementStage.__args__  # type: ignore[attr-defined]
BY_STAGE = ("mediation_advice", "mediations", "appeals_registered")
"""The counts SEN2 records per stage (request, assessment, plan)."""

DECISIONS_RULE = (
    "Decisions = the LA's decisions whether to assess (ehc.assessment_decided) and EHC plans "
    "issued (ehc.plan_issued) dated in the month: the decisions a parent may disagree with. "
    "A rate per 100 decisions = count / decisions x 100, to one decimal place."
)

DEFINITION = define(
    "mediation-and-appeals",
    11,
    "Disagreement: mediation and tribunal appeals",
    "For each local authority and month: mediation advice = disagreement."
    "mediation_advice_sought dated in the month; mediations = disagreement.mediation_held "
    "dated in the month, of which agreed = ended in agreement, and followed by an appeal = a "
    "disagreement.appeal_registered about the same case dated on or after the mediation (by "
    "the time of reading: later appeals add to past months); appeals registered and appeals "
    "decided = disagreement.appeal_registered / appeal_decided dated in the month, the "
    "decided by outcome (upheld, partly upheld, dismissed, withdrawn, conceded); mediation "
    "advice, mediations and appeals registered are also given by SEN2 stage (request: a "
    "decision not to assess; assessment: not to issue a plan; plan: its contents). "
    f"{DECISIONS_RULE} Share followed by an appeal = followed / mediations x 100. Time to "
    "decision = median weeks from registration to decision of the appeals decided in the "
    "month.",
    "SEND Regulations 2014 reg. 32-42 (mediation), Children and Families Act 2014 s.51 "
    "(appeals); comparable with SEN2 mediation and tribunal items and the MoJ tribunal "
    "statistics (SEND appeals).",
    "events dated in the calendar month",
)


def decision_counts(
    tally: Tally, decisions: Iterable[DecisionFact], plans: Iterable[PlanFact],
    months: Sequence[Month],
) -> None:
    """Add the decisions a rate per 100 is taken against (`DECISIONS_RULE`)."""
    for day, la in [(d.decided_on, d.la_code) for d in decisions] + [
        (p.issued_on, p.la_code) for p in plans
    ]:
        month = month_of(day, months)
        if month is not None:
            tally[(month, "")][la]["decisions"] += 1


def disagreement_counts(
    mediations: Iterable[MediationFact], appeals: Iterable[AppealFact],
    decisions: Iterable[DecisionFact], plans: Iterable[PlanFact], months: Sequence[Month],
) -> tuple[Tally, Values]:
    """Per month and LA: mediation, appeals and decisions; the weeks to each appeal decided."""
    tally, weeks = new_tally(), new_values()
    decision_counts(tally, decisions, plans, months)
    for m in mediations:
        month = month_of(m.happened_on, months)
        if month is None:
            continue
        counts = tally[(month, "")][m.la_code]
        if not m.held:
            counts.update(["mediation_advice", f"mediation_advice@{m.stage}"])
            continue
        counts.update([
            "mediations", f"mediations@{m.stage}",
            "agreed" if m.agreement_reached else "not_agreed",
            "followed_by_appeal" if m.followed_by_appeal else "not_followed",
        ])
    for a in appeals:
        if (month := month_of(a.registered_on, months)) is not None:
            tally[(month, "")][a.la_code].update(
                ["appeals_registered", f"appeals_registered@{a.stage}"]
            )
        count_closed(tally, weeks, a.la_code, a.registered_on, a.decided_on, a.outcome, months,
                     "appeals_decided", weeks_between)
    return tally, weeks


def counts(s: Snapshot, months: Sequence[Month]) -> tuple[Tally, Values]:
    """The exact counts, unsuppressed, and the weeks each appeal decided took."""
    return disagreement_counts(
        mediations_within(s, months), appeals_within(s, months), decisions_made(s, months),
        plans_issued(s, months), months,
    )


class StageCounts(BaseModel):
    mediation_advice: Count
    mediations: Count
    appeals_registered: Count


class DisagreementFigure(AreaFigure):
    decisions: Count = Field(description="Decisions whether to assess and plans issued.")
    mediation_advice: Count = Field(description="Mediation advice sought in the month.")
    mediations: Count = Field(description="Mediations held in the month.")
    agreed: Count = Field(description="Mediations that ended in agreement.")
    not_agreed: Count
    followed_by_appeal: Count = Field(description="Mediations followed by an appeal.")
    not_followed: Count
    appeals_registered: Count
    appeals_decided: Count
    appeals_by_outcome: dict[str, Count] = Field(description="Appeals decided, by outcome.")
    by_stage: dict[str, StageCounts] = Field(description="The same, by SEN2 stage.")
    mediations_per_100_decisions: Percent
    appeals_per_100_decisions: Percent
    percent_followed_by_appeal: Percent
    median_weeks_to_decision: Weeks


class Disagreement(Figures):
    figures: list[DisagreementFigure]


MEASURES = (
    "decisions", "mediation_advice", "mediations", "agreed", "not_agreed", "followed_by_appeal",
    "not_followed", "appeals_registered", "appeals_decided",
)


def mediation_and_appeals(
    read_model: DatasetReadModel,
    months: Sequence[Month],
    partnership: Partnership,
    la: str | None = None,
) -> Disagreement:
    """Indicator 11: mediation and tribunal appeals by LA and month."""
    partnership.check(la)
    position, (tally, weeks) = read(read_model, counts, months)
    outcomes = [f"outcome:{o}" for o in OUTCOMES]
    relations = fixed(
        ("mediations", ("agreed", "not_agreed")),
        ("mediations", ("followed_by_appeal", "not_followed")),
        ("appeals_decided", outcomes),
        *((m, tuple(f"{m}@{stage}" for stage in STAGES)) for m in BY_STAGE),
    )
    staged = [f"{m}@{stage}" for m in BY_STAGE for stage in STAGES]
    rows = []
    for month, _, a in area_rows(
        tally, months, [""], [*MEASURES, *outcomes, *staged], partnership, la, relations
    ):
        c = a.cells
        shown = isinstance(c["appeals_decided"], int)
        values = area_values(weeks, (month, ""), a.area)
        rows.append(
            DisagreementFigure(
                month=month, area=a.area, area_name=a.area_name,
                **{m: c[m] for m in MEASURES},
                appeals_by_outcome={o: c[f"outcome:{o}"] for o in OUTCOMES},
                by_stage={
                    stage: StageCounts(**{m: c[f"{m}@{stage}"] for m in BY_STAGE})
                    for stage in STAGES
                },
                mediations_per_100_decisions=percentage(c["mediations"], c["decisions"]),
                appeals_per_100_decisions=percentage(c["appeals_registered"], c["decisions"]),
                percent_followed_by_appeal=percentage(c["followed_by_appeal"], c["mediations"]),
                median_weeks_to_decision=stat(values, statistics.median) if shown else None,
            )
        )
    return Disagreement(indicator=DEFINITION, as_at_stream_sequence=position, figures=rows)


INDICATOR = Monthly(
    DEFINITION, counts, mediation_and_appeals, Disagreement,
    "Indicator 11: mediation and tribunal appeals, per 100 decisions",
    Measure((("mediations", "Mediations"), ("appeals_registered", "Appeals registered"))),
)
