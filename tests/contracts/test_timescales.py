"""Statutory date arithmetic (contracts.timescales), checked against the rules' own examples."""

from __future__ import annotations

from datetime import date

from contracts import timescales as t


def test_twenty_weeks_from_a_monday_request_is_a_monday() -> None:
    assert t.twenty_week_deadline(date(2025, 1, 6)) == date(2025, 5, 26)
    assert t.decision_to_assess_due(date(2025, 1, 6)) == date(2025, 2, 17)
    assert t.decision_not_to_issue_due(date(2025, 1, 6)) == date(2025, 4, 28)


def test_annual_review_from_29_february_falls_on_28_february() -> None:
    assert t.annual_review_due(date(2024, 2, 29)) == date(2025, 2, 28)


def test_amended_plan_is_due_12_weeks_after_the_review_meeting() -> None:
    assert t.amended_plan_due(date(2026, 5, 1)) == date(2026, 7, 24)


def test_a_plan_may_last_to_the_end_of_the_academic_year_of_the_25th_birthday() -> None:
    assert t.plan_max_end(date(2001, 3, 10)) == date(2026, 8, 31)
    assert t.plan_max_end(date(2001, 10, 10)) == date(2027, 8, 31)


def test_transition_milestones_follow_age() -> None:
    born = date(2011, 4, 17)
    assert t.named_worker_due(born) == date(2025, 4, 17)
    assert t.adult_health_referral_due(born) == date(2028, 10, 17)
    assert t.age_on(born, date(2025, 4, 16)) == 13
