"""The pure fold: a person's events, in any order and however often, give one set of facts."""

from __future__ import annotations

import random
from datetime import date

from projections.dataset.facts import PlanFact, facts_of
from projections.dataset.fold import EMPTY, FlagSpell, apply, fold_person

AMIRA = "amira"


def plan_fact(events, *envelopes) -> PlanFact:  # noqa: ANN001 (fixture object)
    (fact,) = facts_of(events.person(AMIRA), fold_person(envelopes))["ehc_plans"]
    return fact


def test_a_plan_issued_exactly_twenty_weeks_after_the_request_is_within_time(events) -> None:
    # given a request on Monday 6 January 2025: 25 days left in January + 28 (Feb) + 31 (Mar)
    # + 30 (Apr) = 114, so the 140th day is 26 May 2025
    requested = events.assessment_requested(AMIRA, date(2025, 1, 6))
    # when the plan is issued on that day, then it is within time
    on_time = plan_fact(events, requested, events.plan_issued(AMIRA, date(2025, 5, 26)))
    assert on_time.requested_on == date(2025, 1, 6)
    assert on_time.within_twenty_weeks is True


def test_a_plan_issued_the_day_after_the_twentieth_week_is_late(events) -> None:
    requested = events.assessment_requested(AMIRA, date(2025, 1, 6))
    late = plan_fact(events, requested, events.plan_issued(AMIRA, date(2025, 5, 27)))
    assert late.within_twenty_weeks is False


def test_a_plan_without_a_recorded_request_has_no_timeliness_yet(events) -> None:
    fact = plan_fact(events, events.plan_issued(AMIRA, date(2025, 5, 26)))
    assert fact.requested_on is None and fact.within_twenty_weeks is None


def test_a_request_from_another_la_is_not_this_plans_request(events) -> None:
    # given LA 855 has case C1 too; LA 856's plan for its own case C1 has no request yet
    other_la = events.assessment_requested(AMIRA, date(2025, 1, 6), la="855")
    fact = plan_fact(events, other_la, events.plan_issued(AMIRA, date(2025, 5, 26), la="856"))
    assert fact.requested_on is None


def test_order_of_arrival_and_duplicates_do_not_change_the_state(events) -> None:
    # given one person's history as the partners recorded it
    history = [
        events.assessment_requested(AMIRA, date(2025, 1, 6)),
        events.health_flag_set(AMIRA, date(2025, 5, 30)),
        events.plan_issued(AMIRA, date(2025, 5, 19)),
        events.health_flag_cleared(AMIRA, date(2026, 7, 31)),
        events.plan_ceased(AMIRA, date(2026, 7, 31)),
    ]
    in_order = fold_person(history)
    # when it arrives shuffled and partly twice
    for seed in range(5):
        arrived = history + history[:2]
        random.Random(seed).shuffle(arrived)
        # then the state is the same
        assert fold_person(arrived) == in_order


def test_a_later_correction_wins_whatever_the_arrival_order(events) -> None:
    # given the LA recorded case C1's request, then a corrected request date a week later
    first = events.assessment_requested(AMIRA, date(2025, 1, 6))
    corrected = events.assessment_requested(AMIRA, date(2025, 1, 13))
    issued = events.plan_issued(AMIRA, date(2025, 6, 1))
    # when the correction arrives first, then it still wins: history order is when it happened
    assert plan_fact(events, corrected, first, issued).requested_on == date(2025, 1, 13)
    assert plan_fact(events, first, corrected, issued).requested_on == date(2025, 1, 13)


def test_a_ceased_plan_keeps_its_cease_date(events) -> None:
    fact = plan_fact(
        events,
        events.plan_issued(AMIRA, date(2025, 5, 19)),
        events.plan_ceased(AMIRA, date(2026, 7, 31)),
    )
    assert fact.ceased_on == date(2026, 7, 31)


def test_health_flag_spells_open_and_close_and_a_repeated_set_changes_nothing(events) -> None:
    state = fold_person([
        events.health_flag_set(AMIRA, date(2025, 1, 10)),
        events.health_flag_set(AMIRA, date(2025, 2, 1)),
        events.health_flag_cleared(AMIRA, date(2025, 3, 1)),
        events.health_flag_set(AMIRA, date(2025, 9, 1)),
    ])
    assert state.health_flags == {
        "856": (FlagSpell(date(2025, 1, 10), date(2025, 3, 1)), FlagSpell(date(2025, 9, 1))),
    }


def test_events_the_dataset_does_not_use_leave_the_state_unchanged(events) -> None:
    assert apply(EMPTY, events.named_worker(AMIRA, date(2025, 1, 6))) == EMPTY
