"""`ehc.*`: the EHC needs assessment and plan process (Children and Families Act 2014 Part 3).

Published by local authorities, except `ehc.advice_returned` (any advice giver, e.g. the ICB).
Dates are the statutory dates the timescales run from (SEND Regulations 2014).
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Protocol, Self

from pydantic import ConfigDict, Field, model_validator

from contracts.envelope import Payload
from contracts.provenance import SourceSystem
from contracts.registry import event
from contracts.vocab import AdviceGiver, LocalId, OrgCode, PrimaryNeed

TimescaleException = Literal[
    "away_4_weeks", "exceptional_personal_circumstances", "school_closed_4_weeks"
]
"""SEND Regulations 2014 reg. 13(3): exceptions to the 20-week limit (reported separately)."""

Placement = Literal["mainstream", "resourced_provision", "special", "ap", "post16", "other"]
"""The kind of setting named in section I of an EHC plan."""

RequestedBy = Literal[
    "parent", "young_person", "school_or_college", "health", "social_care", "other"
]
"""Who asked for an EHC needs assessment."""
AssessmentDecision = Literal["assess", "refuse"]
NotIssuedReason = Literal["needs_met_without_plan", "withdrawn", "other"]
AssessmentStep = Literal["awaiting_decision", "assessing", "refused_to_assess", "not_issued"]
"""Where an assessment recorded at go-live stands: open (awaiting the decision to assess, or
being assessed) or closed without a plan (refused, or assessed and not issued)."""
STEP_DATES: dict[str, tuple[str, ...]] = {
    "awaiting_decision": (),
    "assessing": ("decided_on",),
    "refused_to_assess": ("decided_on",),
    "not_issued": ("decided_on", "not_issued_on", "not_issued_reason"),
}
"""The fields each step requires; the other optional fields must be absent."""
ReviewDecision = Literal["maintain", "amend", "cease"]
"""The LA's decision after an annual review."""
AmendmentTrigger = Literal["annual_review", "phase_transfer", "post16_transfer", "other"]
CeaseReason = Literal[
    "max_age", "moved_to_another_la", "left_education_or_training", "needs_met",
    "moved_outside_england", "deceased", "other",
]
"""SEN2 reasons an EHC plan ceased."""


def _example(**fields: object) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [fields]})


@event("ehc.assessment_requested")
class AssessmentRequested(Payload):
    """A request for an EHC needs assessment was received: the 6- and 20-week clocks start."""

    model_config = _example(
        case_id="856-C-000123", requested_on="2025-01-06", requested_by="parent"
    )

    case_id: LocalId = Field(description="The LA's reference for this assessment case.")
    requested_on: date = Field(description="Date the LA received the request.")
    requested_by: RequestedBy = Field(description="Who made the request.")


@event("ehc.assessment_decided")
class AssessmentDecided(Payload):
    """The LA decided whether to assess (statutory limit: 6 weeks from the request)."""

    model_config = _example(case_id="856-C-000123", decided_on="2025-02-10", decision="assess")

    case_id: LocalId
    decided_on: date = Field(description="Date the decision was notified.")
    decision: AssessmentDecision = Field(description="assess, or refuse to assess.")


@event("ehc.advice_requested")
class AdviceRequested(Payload):
    """The LA asked an advice giver for advice (statutory limit for the reply: 6 weeks)."""

    model_config = _example(
        case_id="856-C-000123", advice_request_id="856-A-77", requested_on="2025-02-11",
        advice_giver="health", requested_from="QK1",
    )

    case_id: LocalId
    advice_request_id: LocalId = Field(description="Reference the advice giver quotes back.")
    requested_on: date = Field(
        description="Date the LA asked for the advice: the 6-week clock starts."
    )
    advice_giver: AdviceGiver = Field(description="Which kind of advice was asked for.")
    requested_from: OrgCode | None = Field(
        default=None, description="Code of the organisation asked, when it is a partner."
    )


@event("ehc.advice_returned")
class AdviceReturned(Payload):
    """An advice giver returned advice for an EHC needs assessment."""

    model_config = _example(
        case_id="856-C-000123", advice_request_id="856-A-77", requesting_la="856",
        returned_on="2025-03-14", advice_giver="health",
    )

    case_id: LocalId
    advice_request_id: LocalId
    requesting_la: OrgCode = Field(description="The LA that asked for the advice.")
    returned_on: date = Field(description="Date the advice reached the LA.")
    advice_giver: AdviceGiver = Field(description="Which kind of advice this is.")


class PlanDetails(Payload):
    """What an EHC plan says, shared by a plan issued live and a plan in force at go-live."""

    case_id: LocalId
    plan_id: LocalId = Field(description="The LA's reference for the plan, quoted by later events.")
    issued_on: date = Field(description="Date the final EHC plan was issued.")
    primary_need: PrimaryNeed = Field(description="SEN2 primary type of need.")
    placement: Placement = Field(description="Kind of setting named in section I of the plan.")
    placement_provider: OrgCode | None = Field(default=None, description="URN or provider id.")
    exception: TimescaleException | None = Field(
        default=None, description="A regulation 13(3) exception that applied, if any."
    )


@event("ehc.plan_issued")
class PlanIssued(PlanDetails):
    """A final EHC plan was issued (statutory limit: 20 weeks from the request, bar exceptions)."""

    model_config = _example(
        case_id="856-C-000123", plan_id="856-P-000045", issued_on="2025-05-19",
        primary_need="ASD", placement="mainstream", placement_provider="120001", exception=None,
    )


@event("ehc.plan_in_force_recorded")
class PlanInForceRecorded(PlanDetails):
    """An EHC plan the LA already maintained when it joined the partnership (go-live).

    A fact recorded from the LA's existing system, not observed live: the plan is active, due
    its next annual review and in the discrepancy from day one, but it is not a new plan issued
    (its request and decision to assess are not invented). When the LA holds the date of the
    request, `requested_on` lets the 20-week figures count the plan in the month it was issued.
    A type of its own rather than a version of `ehc.plan_issued` (both share `PlanDetails`, but
    neither is the other), so a consumer that does not know it never counts it as a plan
    issued. Later reviews, amendments and the cessation are the usual `ehc.*` events naming
    `plan_id`.
    """

    model_config = _example(
        case_id="856-C-000077", plan_id="856-P-000019", issued_on="2019-03-04",
        primary_need="SEMH", placement="special", placement_provider="120001", exception=None,
        requested_on=None, last_reviewed_on="2026-03-02", last_amended_on="2024-07-01",
        migrated_from="capita-one",
    )

    requested_on: date | None = Field(
        default=None,
        description=(
            "Date the LA received the request for assessment, when its system holds it: the plan "
            "then counts in the 20-week timeliness of the month it was issued."
        ),
    )
    last_reviewed_on: date | None = Field(
        default=None, description="Date of the last annual review meeting: the next is due 12 "
        "months later (none yet: due 12 months after issue)."
    )
    last_amended_on: date | None = Field(
        default=None, description="Date the last amended final plan was issued, if any."
    )
    migrated_from: SourceSystem = Field(
        description="The LA's system the plan was recorded from at go-live."
    )


class _AtStep(Protocol):
    step: AssessmentStep
    requested_on: date
    decided_on: date | None
    not_issued_on: date | None
    not_issued_reason: NotIssuedReason | None


def step_refusal(record: _AtStep) -> str | None:
    """Why an assessment recorded at a step is inconsistent (None: it is not): each step has
    exactly the fields `STEP_DATES` names, in the statutory order. The contract and the LA's
    command both check it, so nothing is stored that cannot be shared."""
    required = STEP_DATES[record.step]
    for name in ("decided_on", "not_issued_on", "not_issued_reason"):
        given = getattr(record, name) is not None
        if given and name not in required:
            return f"{name} is only given for a later step, not for {record.step}"
        if not given and name in required:
            return f"{name} is required for step {record.step}"
    if record.decided_on is not None and record.decided_on < record.requested_on:
        return f"decided_on {record.decided_on} is before requested_on {record.requested_on}"
    if (
        record.not_issued_on is not None
        and record.decided_on is not None
        and record.not_issued_on < record.decided_on
    ):
        return f"not_issued_on {record.not_issued_on} is before decided_on {record.decided_on}"
    return None


@event("ehc.assessment_step_recorded")
class AssessmentStepRecorded(Payload):
    """An EHC needs assessment the LA already held when it joined the partnership (go-live),
    at the step its existing system records, with the dates it holds.

    Open cases (`awaiting_decision`, `assessing`) carry on live with the usual commands naming
    `case_id` (decision, advice, plan issued or not issued); closed ones (`refused_to_assess`,
    `not_issued`) are history. A fact recorded from the LA's system, not observed live: no
    request or decision is invented, and every read model can tell it by its type. Because its
    dates are the LA's own, the figures count it like a case observed live (the request ages in
    the backlog from `requested_on`; a decision counts in the month of `decided_on`).
    """

    model_config = _example(
        case_id="856-C-000201", requested_on="2026-08-03", requested_by="school_or_college",
        step="assessing", decided_on="2026-09-10", not_issued_on=None, not_issued_reason=None,
        migrated_from="capita-one",
    )

    case_id: LocalId = Field(description="The LA's reference for this assessment case.")
    requested_on: date = Field(description="Date the LA received the request.")
    requested_by: RequestedBy | None = Field(
        default=None, description="Who made the request, when the LA's system holds it."
    )
    step: AssessmentStep = Field(description="Where the assessment stands at go-live.")
    decided_on: date | None = Field(
        default=None,
        description="Date the decision to assess (or to refuse) was notified: required from "
        "`assessing` on, absent while awaiting the decision.",
    )
    not_issued_on: date | None = Field(
        default=None, description="Date the decision not to issue a plan was notified "
        "(`not_issued` only)."
    )
    not_issued_reason: NotIssuedReason | None = Field(
        default=None, description="Why no plan was issued (`not_issued` only)."
    )
    migrated_from: SourceSystem = Field(
        description="The LA's system the assessment was recorded from at go-live."
    )

    @model_validator(mode="after")
    def _dates_of_the_step(self) -> Self:
        refusal = step_refusal(self)
        if refusal is not None:
            raise ValueError(refusal)
        return self

    @property
    def decision(self) -> AssessmentDecision | None:
        """The decision to assess the step implies (None: not yet decided)."""
        if self.step == "awaiting_decision":
            return None
        return "refuse" if self.step == "refused_to_assess" else "assess"


@event("ehc.plan_not_issued")
class PlanNotIssued(Payload):
    """After assessing, the LA decided not to issue a plan (limit: 16 weeks from the request)."""

    model_config = _example(
        case_id="856-C-000124", decided_on="2025-04-20", reason="needs_met_without_plan"
    )

    case_id: LocalId
    decided_on: date = Field(description="Date the decision not to issue was notified.")
    reason: NotIssuedReason = Field(description="Why no plan was issued.")


@event("ehc.annual_review_held")
class AnnualReviewHeld(Payload):
    """An annual review meeting was held (at least every 12 months)."""

    model_config = _example(
        plan_id="856-P-000045", held_on="2026-05-01", preparing_for_adulthood=True
    )

    plan_id: LocalId
    held_on: date = Field(description="Date of the annual review meeting.")
    preparing_for_adulthood: bool = Field(
        description="The review considered preparing for adulthood (required from Year 9)."
    )


@event("ehc.review_outcome")
class ReviewOutcome(Payload):
    """The LA's decision after a review: maintain, amend or cease (limit: 4 weeks)."""

    model_config = _example(
        plan_id="856-P-000045", review_held_on="2026-05-01", decided_on="2026-05-20",
        outcome="amend",
    )

    plan_id: LocalId
    review_held_on: date = Field(description="Date of the review meeting this outcome follows.")
    decided_on: date = Field(description="Date the LA notified its decision.")
    outcome: ReviewDecision = Field(description="maintain, amend or cease the plan.")


@event("ehc.plan_amended")
class PlanAmended(Payload):
    """An amended final plan was issued (after a review: within 12 weeks of the meeting)."""

    model_config = _example(
        plan_id="856-P-000045", amended_on="2026-07-10", trigger="annual_review",
        review_held_on="2026-05-01",
    )

    plan_id: LocalId
    amended_on: date = Field(description="Date the amended final plan was issued.")
    trigger: AmendmentTrigger = Field(description="What led to the amendment.")
    review_held_on: date | None = Field(
        default=None, description="The review meeting this amendment follows, if any."
    )


@event("ehc.plan_ceased")
class PlanCeased(Payload):
    """The LA ceased to maintain the plan, with the SEN2 reason."""

    model_config = _example(plan_id="856-P-000045", ceased_on="2036-07-31", reason="max_age")

    plan_id: LocalId
    ceased_on: date = Field(description="Date the LA ceased to maintain the plan.")
    reason: CeaseReason = Field(description="SEN2 reason the plan ceased.")
