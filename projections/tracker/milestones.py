"""The preparing-for-adulthood milestones and the school-year rules their due dates follow. Pure.

Sources of the rules (see also `contracts.timescales` for the ages and the plan's end):
- English school years run 1 September to 31 August (Education Act 1996 s.4 and the school
  admissions code: a child's year group is set by their age on 31 August). So "the school year
  the young person turns 14" is Year 9 (SEND Code of Practice 8.9: preparing-for-adulthood
  reviews from Year 9 onwards).
- "By 31 March before the move": SEND Regulations 2014 reg. 18(1)(b) (post-16 transfer: the
  plan reviewed and amended by 31 March of the year of transfer).
- The plan may be kept until the end of the academic year in which the young person turns 25
  (Children and Families Act 2014 s.46; `contracts.timescales.plan_max_end`).
- Ages from a birth month only: the partnership shares year and month of birth, never the day.
  A birthday is taken as the **last day of the birth month**, so nobody is treated as older,
  or a milestone as due, before they could be; due dates "by age N" may be up to a month later
  than the true birthday, never earlier.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.timescales import academic_year_end


def assumed_birth_date(birth_month: str) -> date:
    """The day a `YYYY-MM` birth month is taken as: its last day (see the module docstring)."""
    year, month = (int(part) for part in birth_month.split("-"))
    return date(year, month, calendar.monthrange(year, month)[1])


def turns(born_on: date, age: int) -> date:
    """The day a person born in `born_on`'s month is taken to reach `age`: the last day of
    their birth month that year (so 29 February is kept in leap years, 28th otherwise)."""
    year = born_on.year + age
    return date(year, born_on.month, calendar.monthrange(year, born_on.month)[1])


def turns_and_a_half(born_on: date, age: int) -> date:
    """The day they are taken to reach `age` and a half: the last day of the sixth month after."""
    index = born_on.month - 1 + 6
    year, month = born_on.year + age + index // 12, index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def age_on(born_on: date, on: date) -> int:
    """Completed years on `on`, with birthdays as `turns` takes them."""
    age = on.year - born_on.year
    return age if turns(born_on, age) <= on else age - 1


def school_year_start(on: date) -> date:
    """The 1 September that starts the English school year containing `on`."""
    return date(on.year if on.month >= 9 else on.year - 1, 9, 1)


def school_year_turning(born_on: date, age: int) -> tuple[date, date]:
    """(first, last day) of the school year in which the young person turns `age`."""
    day = turns(born_on, age)
    return school_year_start(day), academic_year_end(day)


def move_after_school_year_turning(born_on: date, age: int) -> date:
    """The 1 September after the school year they turn `age`: 16 is the post-16 move (after
    Year 11), 19 the post-19 move (after Year 14)."""
    return school_year_turning(born_on, age)[1] + timedelta(days=1)


def march_before(move_on: date) -> date:
    """The last 31 March strictly before `move_on` (reg. 18: plan amended by 31 March)."""
    this_year = date(move_on.year, 3, 31)
    return this_year if this_year < move_on else date(move_on.year - 1, 3, 31)


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    owner_role: str
    due_rule: str


PFA_REVIEW = Milestone(
    "pfa_review",
    "Preparing-for-adulthood annual review held",
    "LA",
    "by the end of the school year the young person turns 14 (Year 9), then within 12 months "
    "of the last such review; for people with an EHC plan",
)
NAMED_WORKER = Milestone(
    "named_worker",
    "Named worker assigned",
    "LA or ICB",
    "by age 14",
)
TRANSITION_PLAN = Milestone(
    "transition_plan",
    "Transition plan agreed (multi-agency)",
    "LA with partners",
    "by age 15",
)
LD_HEALTH_CHECK = Milestone(
    "ld_health_check",
    "Learning disability annual health check",
    "ICB/GP",
    "by age 15 (or 12 months after the diagnosis, if later), then within 12 months of the last "
    "check; for people with a learning disability diagnosis (on the LD register)",
)
CARE_SUMMARY = Milestone(
    "care_summary",
    "Health care summary updated",
    "NHS trust",
    "by the end of Year 9, then within 12 months of the last update; for people whose care "
    "summary records complex health needs",
)
ASC_ASSESSMENT = Milestone(
    "asc_assessment",
    "Adult social care transition assessment",
    "LA adult services",
    "by age 17; for people likely to have needs after 18 (a learning disability diagnosis, on "
    "the dynamic support register, or a plan whose primary need is SLD, PMLD, MSI or PD)",
)
ADULT_HEALTH_REFERRAL = Milestone(
    "adult_health_referral",
    "Referral to adult health services accepted",
    "ICB/NHS trust",
    "by age 17 and a half; for people with a learning disability, complex health needs or on "
    "the dynamic support register",
)
ADULT_TRANSFER = Milestone(
    "adult_transfer",
    "Transfer to adult services completed",
    "receiving service",
    "by age 18, or the transfer date agreed when the adult service accepted the referral; for "
    "the same people as the referral",
)
POST16_DESTINATION = Milestone(
    "destination",
    "Post-16/post-19 destination confirmed and plan amended",
    "LA + provider",
    "by 31 March before the move (the September after Year 11, then after Year 14): a "
    "destination confirmed for that move and the plan amended for the post-16 transfer; for "
    "people with an EHC plan",
)
PLAN_CEASED = Milestone(
    "plan_ceased",
    "EHC plan ceased with a recorded reason",
    "LA",
    "by the end of the academic year in which the young person turns 25; for people who have "
    "had a plan",
)

MILESTONES: tuple[Milestone, ...] = (
    PFA_REVIEW,
    NAMED_WORKER,
    TRANSITION_PLAN,
    LD_HEALTH_CHECK,
    CARE_SUMMARY,
    ASC_ASSESSMENT,
    ADULT_HEALTH_REFERRAL,
    ADULT_TRANSFER,
    POST16_DESTINATION,
    PLAN_CEASED,
)
MILESTONE_IDS: tuple[str, ...] = tuple(m.id for m in MILESTONES)
