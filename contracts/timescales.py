"""Statutory timescales and transition milestone ages, as pure date arithmetic.

One module so that services (which record facts) and projections (which judge timeliness)
count the same way. Sources:

- Children and Families Act 2014, Part 3, and the SEND Regulations 2014 (SI 2014/1530):
  reg. 5(1) decision whether to assess within 6 weeks of the request; reg. 8(1) advice
  returned within 6 weeks of being asked; reg. 10(1) notice of a decision not to issue a plan
  within 16 weeks of the request; reg. 13(2) final plan within 20 weeks of the request, subject
  to the reg. 13(3) exceptions; s.44 and reg. 18 review at least every 12 months; reg. 20(10)
  LA decision within 4 weeks of the review meeting; reg. 22 and Code of Practice 9.194 proposed
  amendments within 4 weeks of the meeting and the final amended plan within 8 weeks of the
  proposal (12 weeks in all); reg. 18(2) phase transfer: amended plan by 15 February of the
  transfer year, by 31 March for a transfer into post-16 education; s.45 a plan may be kept
  until the end of the academic year in which the young person turns 25.
- NICE NG43 (transition from children's to adults' services) and the Care Act 2014 s.58-59:
  named worker by 14, transition plan by 15, adult social care transition assessment by 17,
  adult health referral accepted by 17 and a half, transfer completed by 18.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

DECISION_TO_ASSESS_WEEKS = 6
ADVICE_WEEKS = 6
DECISION_NOT_TO_ISSUE_WEEKS = 16
FINAL_PLAN_WEEKS = 20
REVIEW_DECISION_WEEKS = 4
AMENDED_PLAN_WEEKS = 12
ANNUAL_REVIEW_MONTHS = 12
PLAN_MAX_AGE = 25


def weeks_after(start: date, weeks: int) -> date:
    return start + timedelta(weeks=weeks)


def months_after(start: date, months: int) -> date:
    """Same day `months` later; the 31st (or 29 February) falls back to the month's last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def decision_to_assess_due(requested_on: date) -> date:
    """SEND Regulations 2014 reg. 5(1): 6 weeks from the request."""
    return weeks_after(requested_on, DECISION_TO_ASSESS_WEEKS)


def advice_due(advice_requested_on: date) -> date:
    """SEND Regulations 2014 reg. 8(1): 6 weeks from the LA's request for advice."""
    return weeks_after(advice_requested_on, ADVICE_WEEKS)


def decision_not_to_issue_due(requested_on: date) -> date:
    """SEND Regulations 2014 reg. 10(1): 16 weeks from the request for assessment."""
    return weeks_after(requested_on, DECISION_NOT_TO_ISSUE_WEEKS)


def twenty_week_deadline(requested_on: date) -> date:
    """SEND Regulations 2014 reg. 13(2): final plan within 20 weeks of the request."""
    return weeks_after(requested_on, FINAL_PLAN_WEEKS)


def annual_review_due(last_issued_or_reviewed_on: date) -> date:
    """Children and Families Act 2014 s.44(1): review at least every 12 months."""
    return months_after(last_issued_or_reviewed_on, ANNUAL_REVIEW_MONTHS)


def review_decision_due(review_held_on: date) -> date:
    """SEND Regulations 2014 reg. 20(10): decision to maintain, amend or cease within 4 weeks."""
    return weeks_after(review_held_on, REVIEW_DECISION_WEEKS)


def amended_plan_due(review_held_on: date) -> date:
    """Reg. 22 / Code of Practice 9.194: 4 weeks to propose plus 8 weeks to finalise."""
    return weeks_after(review_held_on, AMENDED_PLAN_WEEKS)


def phase_transfer_deadline(transfer_year: int, *, post16: bool) -> date:
    """SEND Regulations 2014 reg. 18(2): 15 February, or 31 March for post-16 transfers."""
    return date(transfer_year, 3, 31) if post16 else date(transfer_year, 2, 15)


def birthday(born_on: date, age: int) -> date:
    """The day a person reaches `age` (29 February birthdays fall on 28 February)."""
    year = born_on.year + age
    return date(year, born_on.month, min(born_on.day, calendar.monthrange(year, born_on.month)[1]))


def age_on(born_on: date, on: date) -> int:
    return on.year - born_on.year - ((on.month, on.day) < (born_on.month, born_on.day))


def academic_year_end(on: date) -> date:
    """The 31 August that ends the English academic year containing `on`."""
    return date(on.year if on.month < 9 else on.year + 1, 8, 31)


def plan_max_end(born_on: date) -> date:
    """CFA 2014 s.45: end of the academic year in which the young person turns 25."""
    return academic_year_end(birthday(born_on, PLAN_MAX_AGE))


def named_worker_due(born_on: date) -> date:
    """NICE NG43 1.2.7: a named worker coordinating transition, by age 14."""
    return birthday(born_on, 14)


def transition_plan_due(born_on: date) -> date:
    """NICE NG43 1.2.1: transition planning agreed, by age 15."""
    return birthday(born_on, 15)


def adult_social_care_assessment_due(born_on: date) -> date:
    """Care Act 2014 s.58-59: a transition assessment in good time, by age 17 (local standard)."""
    return birthday(born_on, 17)


def adult_health_referral_due(born_on: date) -> date:
    """NICE NG43 1.5: adult services involved before transfer, referral accepted by 17 1/2."""
    return months_after(birthday(born_on, 17), 6)


def transfer_to_adult_services_due(born_on: date) -> date:
    """NICE NG43: transfer by 18 unless an agreed later date."""
    return birthday(born_on, 18)
