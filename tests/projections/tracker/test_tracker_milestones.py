"""The school-year rules and each milestone's due date and RAG, worked out by hand.

Boundaries chosen: a birthday on the as-of date (14 that day: in the tracker), a milestone due
on the as-of date (amber), due the day before (red), due in exactly 90 days (amber) and in 91
(green); birthdays are the last day of the birth month.
"""

from __future__ import annotations

from datetime import date

from projections.tracker.fold import tracker_facts
from projections.tracker.milestones import (
    assumed_birth_date,
    march_before,
    move_after_school_year_turning,
    school_year_turning,
    turns,
)
from projections.tracker.status import rag_of, status_of

APRIL_2011 = assumed_birth_date("2011-04")


def test_a_birth_month_is_taken_as_its_last_day() -> None:
    assert APRIL_2011 == date(2011, 4, 30)
    assert assumed_birth_date("2012-02") == date(2012, 2, 29)
    # a leap-day birthday month keeps the 29th in leap years and the 28th otherwise
    assert turns(date(2012, 2, 29), 14) == date(2026, 2, 28)
    assert turns(date(2012, 2, 29), 16) == date(2028, 2, 29)


def test_the_school_year_a_young_person_turns_14_is_year_9() -> None:
    # born April 2011: turns 14 on 30 April 2025, in the school year from 1 September 2024
    assert school_year_turning(APRIL_2011, 14) == (date(2024, 9, 1), date(2025, 8, 31))
    # born August (the youngest of the year) and September (the oldest of the next)
    assert school_year_turning(date(2011, 8, 31), 14) == (date(2024, 9, 1), date(2025, 8, 31))
    assert school_year_turning(date(2011, 9, 30), 14) == (date(2025, 9, 1), date(2026, 8, 31))


def test_the_post16_move_is_the_september_after_year_11_and_due_by_31_march_before() -> None:
    move = move_after_school_year_turning(APRIL_2011, 16)
    assert move == date(2027, 9, 1)
    assert march_before(move) == date(2027, 3, 31)
    # a move on 31 March itself must be prepared by the 31 March a year earlier
    assert march_before(date(2027, 3, 31)) == date(2026, 3, 31)
    assert march_before(date(2027, 4, 1)) == date(2027, 3, 31)


def test_rag_boundaries() -> None:
    as_of = date(2025, 6, 1)
    assert rag_of(date(2025, 5, 31), False, as_of) == "red"  # due yesterday
    assert rag_of(date(2025, 6, 1), False, as_of) == "amber"  # due today
    assert rag_of(date(2025, 8, 30), False, as_of) == "amber"  # exactly 90 days
    assert rag_of(date(2025, 8, 31), False, as_of) == "green"  # 91 days
    assert rag_of(date(2025, 5, 31), True, as_of) == "green"  # done, even if late


def _person(events, *history):  # noqa: ANN001, ANN202
    return tracker_facts([events.registered("amira", "2011-04"), *history])


def test_a_birthday_on_the_as_of_date_brings_a_young_person_into_the_tracker(events) -> None:
    facts = _person(events, events.plan_issued("amira", date(2020, 3, 2)))
    key = events.person("amira")
    # the day before they are taken to turn 14 (30 April 2025) they are not tracked
    assert status_of(key, facts, date(2025, 4, 29)) is None
    # on the day, they are 14, and the named worker (due by 14) is due today: amber
    on_the_day = status_of(key, facts, date(2025, 4, 30))
    assert on_the_day.age == 14
    named = next(s for s in on_the_day.milestones if s.milestone.id == "named_worker")
    assert (named.due_on, named.rag, named.owner) == (date(2025, 4, 30), "amber", "856")


def test_milestones_of_a_young_person_with_a_plan_as_of_two_days(events) -> None:
    facts = _person(events, events.plan_issued("amira", date(2020, 3, 2)))
    key = events.person("amira")
    # as of 1 June 2025: named worker (due 30 April) red; PfA review due 31 August (end of
    # Year 9) is 91 days away: green; transition plan due 30 April 2026: green; destination due
    # 31 March 2027; plan may run to 31 August 2036
    june_1 = status_of(key, facts, date(2025, 6, 1))
    assert {s.milestone.id: (s.due_on, s.rag) for s in june_1.milestones} == {
        "pfa_review": (date(2025, 8, 31), "green"),
        "named_worker": (date(2025, 4, 30), "red"),
        "transition_plan": (date(2026, 4, 30), "green"),
        "destination": (date(2027, 3, 31), "green"),
        "plan_ceased": (date(2036, 8, 31), "green"),
    }
    assert (june_1.rag, [s.owner for s in june_1.overdue]) == ("red", ["856"])
    # as of 2 June the PfA review is exactly 90 days away: amber
    june_2 = status_of(key, facts, date(2025, 6, 2))
    assert next(s.rag for s in june_2.milestones if s.milestone.id == "pfa_review") == "amber"


def test_a_milestone_done_after_the_as_of_date_does_not_count_yet(events) -> None:
    facts = _person(
        events,
        events.plan_issued("amira", date(2020, 3, 2)),
        events.named_worker("amira", date(2025, 5, 20)),
    )
    key = events.person("amira")
    before = status_of(key, facts, date(2025, 5, 19))
    after = status_of(key, facts, date(2025, 5, 20))
    assert [s.rag for s in before.milestones if s.milestone.id == "named_worker"] == ["red"]
    done = next(s for s in after.milestones if s.milestone.id == "named_worker")
    assert (done.done_on, done.rag) == (date(2025, 5, 20), "green")


def test_yearly_review_is_due_twelve_months_after_the_last(events) -> None:
    facts = _person(
        events,
        events.plan_issued("amira", date(2020, 3, 2)),
        events.review_held("amira", date(2025, 3, 10), adulthood=True),
        events.review_held("amira", date(2025, 5, 1)),  # not a preparing-for-adulthood review
    )
    status = status_of(events.person("amira"), facts, date(2025, 6, 1))
    review = next(s for s in status.milestones if s.milestone.id == "pfa_review")
    assert (review.done_on, review.due_on, review.rag) == (
        date(2025, 3, 10),
        date(2026, 3, 10),
        "green",
    )


def test_a_learning_disability_brings_health_checks_social_care_and_adult_health(events) -> None:
    # given an LD diagnosis (QK1) and no plan; a health check on 1 March 2026
    facts = _person(
        events,
        events.diagnosis("amira", date(2019, 5, 1), "learning_disability", by="QK1"),
        events.health_check("amira", date(2026, 3, 1)),
    )
    status = status_of(events.person("amira"), facts, date(2026, 6, 1))
    rows = {s.milestone.id: (s.due_on, s.done_on, s.owner, s.rag) for s in status.milestones}
    # first check due by 15 (30 April 2026), done 1 March 2026: next due 1 March 2027
    assert rows["ld_health_check"] == (date(2027, 3, 1), date(2026, 3, 1), "QK1", "green")
    # social care assessment by 17 (30 April 2028), owner the LA (856 registered her)
    assert rows["asc_assessment"] == (date(2028, 4, 30), None, "856", "green")
    # adult health referral by 17 and a half: last day of October 2028; transfer by 18
    assert rows["adult_health_referral"] == (date(2028, 10, 31), None, "QK1", "green")
    assert rows["adult_transfer"] == (date(2029, 4, 30), None, "QK1", "green")
    assert "pfa_review" not in rows and "destination" not in rows


def test_an_agreed_transfer_date_replaces_the_eighteenth_birthday(events) -> None:
    facts = _person(
        events,
        events.diagnosis("amira", date(2019, 5, 1), "learning_disability"),
        events.adult_referral("amira", date(2028, 6, 1), transfer_on=date(2029, 9, 1)),
    )
    status = status_of(events.person("amira"), facts, date(2029, 6, 1))
    transfer = next(s for s in status.milestones if s.milestone.id == "adult_transfer")
    # 92 days before the agreed date: green (the 18th birthday has passed, but it was agreed)
    assert (transfer.due_on, transfer.rag) == (date(2029, 9, 1), "green")


def test_the_destination_needs_both_the_destination_and_the_amended_plan(events) -> None:
    plan = events.plan_issued("amira", date(2020, 3, 2))
    destination = events.destination("amira", date(2027, 2, 1), moves_on=date(2027, 9, 1))
    amended = events.plan_amended("amira", date(2027, 3, 20), trigger="post16_transfer")
    as_of = date(2027, 4, 1)
    only_destination = status_of(events.person("amira"), _person(events, plan, destination), as_of)
    both = status_of(events.person("amira"), _person(events, plan, destination, amended), as_of)

    def destination_row(status):  # noqa: ANN001, ANN202
        return next(s for s in status.milestones if s.milestone.id == "destination")

    assert (destination_row(only_destination).due_on, destination_row(only_destination).rag) == (
        date(2027, 3, 31),
        "red",
    )
    # done on the later of the two (20 March 2027); the next move (post-19, after the school
    # year she turns 19: 1 September 2030) is then shown, due by 31 March 2030
    done_row = destination_row(both)
    assert (done_row.due_on, done_row.done_on, done_row.rag) == (date(2030, 3, 31), None, "green")


def test_the_tracker_ends_at_26_and_needs_a_plan_or_a_diagnosis(events) -> None:
    key = events.person("amira")
    autism = _person(events, events.diagnosis("amira", date(2015, 1, 1)))
    assert status_of(key, autism, date(2037, 4, 29)).age == 25
    assert status_of(key, autism, date(2037, 4, 30)) is None  # 26 that day
    adhd_only = _person(events, events.diagnosis("amira", date(2015, 1, 1), "adhd"))
    assert status_of(key, adhd_only, date(2026, 1, 1)) is None


def test_the_rule_table_has_one_row_per_milestone_in_the_tracker_s_order() -> None:
    from projections.tracker.milestones import MILESTONES
    from projections.tracker.rules import RULES

    assert tuple(rule.milestone for rule in RULES) == MILESTONES
