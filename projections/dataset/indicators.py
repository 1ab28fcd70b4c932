"""The shared dataset's indicators: their written definitions, shown beside every figure.

The definition text is the contract with the reader: change the counting, change the text.
Every definition ends with the suppression rule (`projections.suppression`), which applies to
every published aggregate.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from projections.suppression import SUPPRESSION_RULE


class IndicatorDefinition(BaseModel):
    id: str = Field(description="Stable identifier, also the API path segment.")
    number: int = Field(description="Number of the indicator in the shared dataset (1-7).")
    title: str
    definition: str = Field(description="What is counted, exactly, in plain English.")
    source: str = Field(description="Statutory basis and comparable official statistic.")
    period: str = Field(description="What one figure covers.")


def _define(
    id: str,
    number: int,
    title: str,
    definition: str,
    source: str,
    period: str,
) -> IndicatorDefinition:
    partnership = (
        " The partnership figures are the sums over its local authorities (and, for health and "
        "provider facts, people no LA knows, shown as 'LA not known')."
    )
    return IndicatorDefinition(
        id=id,
        number=number,
        title=title,
        source=source,
        period=period,
        definition=f"{definition}{partnership} {SUPPRESSION_RULE}",
    )


_TIMED = "Percentage = within / counted x 100, to one decimal place; empty when nothing is counted."

ACTIVE_PLANS = _define(
    "active-plans",
    1,
    "Active EHC plans according to the LA and according to health",
    "For each local authority and month, on the last day of the month: LA count = people for "
    "whom the LA maintains an EHC plan (an ehc.plan_issued dated on or before that day and no "
    "ehc.plan_ceased dated on or before it). Health count = people whose health record marks "
    "them as having an EHC plan from that LA on that day (a health.ehc_plan_flag_set dated on or "
    "before the day, not followed by a health.ehc_plan_flag_cleared dated on or before it). "
    "Discrepancy: both = people counted by both sides; LA only = counted by the LA and not by "
    "health; health only = counted by health and not by the LA (people are matched by their "
    "pseudonymous person key). The lists of person keys on each side are served separately "
    "to authorised users.",
    "Children and Families Act 2014 s.37 (duty to maintain a plan); comparable with SEN2 'EHC "
    "plans maintained' (taken on the January census day rather than every month end).",
    "as at the last day of the month",
)

TWENTY_WEEK_TIMELINESS = _define(
    "twenty-week-timeliness",
    2,
    "New EHC plans issued within 20 weeks (excluding exception cases)",
    "For each local authority and month: issued = new EHC plans whose ehc.plan_issued date "
    "falls in the month. Plans where an exception in SEND Regulations 2014 reg. 13(3) applied "
    "(child or parent away for 4 weeks or more, exceptional personal circumstances, school or "
    "college closed for 4 weeks or more) are shown separately as exceptions and not counted; so "
    "are plans whose request for assessment (ehc.assessment_requested for the same LA case) is "
    "not in the dataset (no request recorded). Of the remaining plans (counted), within 20 "
    "weeks = those issued no more than 20 weeks (140 days) after the date the LA received the "
    f"request; a plan issued exactly 140 days after the request is within time. {_TIMED}",
    "SEND Regulations 2014 reg. 13(2)-(3); comparable with the SEN2 measure 'new EHC plans "
    "issued within 20 weeks, excluding exception cases'.",
    "plans issued in the calendar month",
)

DECISION_TIMELINESS = _define(
    "decision-timeliness",
    3,
    "Decisions whether to assess made within 6 weeks",
    "For each local authority and month: decided = ehc.assessment_decided (to assess or not) "
    "dated in the month. Decisions whose request (ehc.assessment_requested for the same LA case) "
    "is not in the dataset are shown as no request recorded and not counted. Of the rest "
    "(counted), within 6 weeks = decided no more than 42 days after the LA received the "
    f"request; a decision exactly 6 weeks after the request is within time. {_TIMED}",
    "SEND Regulations 2014 reg. 5(1); comparable with the LA's 6-week decision KPI.",
    "decisions dated in the calendar month",
)

ADVICE_TIMELINESS = _define(
    "advice-timeliness",
    3,
    "Advice for EHC needs assessments returned within 6 weeks, by advice giver",
    "For each local authority, month and advice giver (health, social care, educational "
    "psychology, education, other): returned = ehc.advice_returned dated in the month, matched "
    "to the LA's ehc.advice_requested by the requesting LA and the advice request id (whichever "
    "arrived first). Advice whose request is not in the dataset is shown as no request recorded "
    "and not counted. Of the rest (counted), within 6 weeks = returned no more than 42 days "
    "after the LA asked; exactly 6 weeks is within time. The advice giver is the one named by "
    f"the LA's request. {_TIMED}",
    "SEND Regulations 2014 reg. 8(1) (advice within 6 weeks of the request).",
    "advice returned in the calendar month",
)

REVIEW_TIMELINESS = _define(
    "annual-review-timeliness",
    4,
    "Annual reviews held within 12 months",
    "For each local authority and month: held = ehc.annual_review_held meetings dated in the "
    "month. Each is compared with the plan's previous review, or its issue date for the first "
    "review; reviews of plans whose issue is not in the dataset are shown as no issue recorded "
    "and not counted. Of the rest (counted), within 12 months = held on or before the same date "
    "12 months later (a month without that day uses its last day); a review exactly 12 months "
    f"after the last is within time. {_TIMED}",
    "Children and Families Act 2014 s.44(1) and SEND Regulations 2014 reg. 18 (review at least "
    "every 12 months).",
    "reviews held in the calendar month",
)

AMENDMENT_TIMELINESS = _define(
    "amendment-timeliness",
    4,
    "Amended plans issued within 12 weeks of the review meeting",
    "For each local authority and month: amended = ehc.plan_amended dated in the month that name "
    "the review meeting they follow (review_held_on); amendments for other reasons are not "
    "counted. Within 12 weeks = issued no more than 84 days after the meeting (4 weeks to "
    f"propose the amendments plus 8 weeks to finalise); exactly 12 weeks is within time. {_TIMED}",
    "SEND Regulations 2014 reg. 22 and Code of Practice 9.194; a Nottinghamshire KPI.",
    "amended plans issued in the calendar month",
)

HEALTH_WAITS = _define(
    "health-waits",
    5,
    "Health pathway waits",
    "For each local authority, month and pathway (neurodevelopmental, speech and language "
    "therapy, CAMHS, OT, paediatrics), counted under the person's LA: waiting = referrals "
    "(health.referral_made) dated on or before the last day of the month whose first "
    "assessment (health.assessment_started for the same referral) had not happened by that "
    "day, banded by the weeks waited at that day: 0-18 (under 18 weeks), 18-52 (18 weeks up to "
    "under 52) and 52+ (52 weeks or more); exactly 18 weeks falls in 18-52. Started = first "
    "assessments dated in the month; median and 90th percentile weeks from referral to that "
    "assessment are taken over them (statistics.median and statistics.quantiles, inclusive "
    "method, to one decimal place).",
    "NHS referral-to-treatment waiting list bands; the partnerships' neurodevelopmental "
    "waiting-time KPIs (Nottinghamshire, Rutland).",
    "waiting as at the month's last day; waits ended in the calendar month",
)

ALTERNATIVE_PROVISION = _define(
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

TRANSITION_TRACKER = _define(
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

INDICATORS: tuple[IndicatorDefinition, ...] = (
    ACTIVE_PLANS,
    TWENTY_WEEK_TIMELINESS,
    DECISION_TIMELINESS,
    ADVICE_TIMELINESS,
    REVIEW_TIMELINESS,
    AMENDMENT_TIMELINESS,
    HEALTH_WAITS,
    ALTERNATIVE_PROVISION,
    TRANSITION_TRACKER,
)
