"""Indicators 1 and 2 over the SQLite read model, with figures worked out by hand from the rules."""

from __future__ import annotations

import random
from datetime import date

import pytest

from projections.dataset.facts import dataset_facts
from projections.dataset.fold import fold_all
from projections.dataset.periods import Month, months_between
from projections.dataset.queries import (
    Partnership,
    UnknownArea,
    active_plans,
    twenty_week_timeliness,
)
from projections.dataset.store import SqliteDatasetStore
from projections.projection import StreamEvent

LLR = Partnership.of()
JAN_TO_APR = months_between(Month(2025, 1), Month(2025, 4))
NOTHING_JAN_TO_APR = [(m, 0, 0) for m in ("2025-01", "2025-02", "2025-03", "2025-04")]
MAY = [Month(2025, 5)]


def counts(result, area: str) -> list[tuple[str, int, int]]:  # noqa: ANN001
    return [(f.month, f.la_count, f.health_count) for f in result.figures if f.area == area]


def test_a_plan_counts_as_active_from_the_month_it_is_issued_until_it_ceases(
    store, record, events
) -> None:
    # given a plan issued on 31 January (the last day: active at the end of January) and ceased
    # on 31 March (no longer maintained at the end of March); another issued on 1 February
    record(
        events.plan_issued("amira", date(2025, 1, 31)),
        events.plan_ceased("amira", date(2025, 3, 31)),
        events.plan_issued("ben", date(2025, 2, 1), plan="P2", case="C2"),
    )
    # when indicator 1 is read for January to April
    result = active_plans(store, JAN_TO_APR, LLR, la="856")
    # then LA 856 counts 1, 2, 1, 1 plans at the month ends
    assert counts(result, "856") == [
        ("2025-01", 1, 0), ("2025-02", 2, 0), ("2025-03", 1, 0), ("2025-04", 1, 0),
    ]
    assert result.indicator.id == "active-plans"
    assert "last day of the month" in result.indicator.definition


def test_health_counts_people_flagged_at_month_end_beside_the_la_count(
    store, record, events
) -> None:
    # given health flags a plan from LA 856 on 10 Feb and clears it on 28 Feb; flags another
    # person's plan from LA 855 on 15 March (the LA itself has recorded neither)
    record(
        events.health_flag_set("amira", date(2025, 2, 10), la="856"),
        events.health_flag_cleared("amira", date(2025, 2, 28), la="856"),
        events.health_flag_set("ben", date(2025, 3, 15), la="855"),
        events.plan_issued("cara", date(2025, 1, 2), la="855"),
    )
    result = active_plans(store, JAN_TO_APR, LLR)
    # then health counts nobody for 856 at any month end (cleared on the last day of Feb)
    assert counts(result, "856") == NOTHING_JAN_TO_APR
    assert counts(result, "855") == [
        ("2025-01", 1, 0), ("2025-02", 1, 0), ("2025-03", 1, 1), ("2025-04", 1, 1),
    ]
    # and an LA with nothing still has its row, and the partnership is the sum
    assert counts(result, "857") == NOTHING_JAN_TO_APR
    assert counts(result, "partnership") == counts(result, "855")


def test_twenty_week_timeliness_excludes_exceptions_and_plans_without_a_request(
    store, record, events
) -> None:
    # given, for plans issued in May 2025 (20 weeks from 6 January 2025 is 26 May 2025):
    record(
        # 856: requested 6 Jan, issued 26 May = day 140: within
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
        # 856: requested 6 Jan, issued 27 May = day 141: late
        events.assessment_requested("ben", date(2025, 1, 6)),
        events.plan_issued("ben", date(2025, 5, 27)),
        # 856: an exception case (child away 4+ weeks), issued late: counted separately
        events.assessment_requested("cara", date(2024, 11, 4)),
        events.plan_issued("cara", date(2025, 5, 12), exception="away_4_weeks"),
        # 856: request not (yet) in the dataset: counted separately
        events.plan_issued("dev", date(2025, 5, 20)),
        # 855: requested 1 March, issued 2 May (62 days): within
        events.assessment_requested("eli", date(2025, 3, 1), la="855"),
        events.plan_issued("eli", date(2025, 5, 2), la="855"),
        # 855: issued in June, outside the month asked for
        events.assessment_requested("fay", date(2025, 3, 1), la="855", case="C9"),
        events.plan_issued("fay", date(2025, 6, 2), la="855", case="C9"),
    )
    # when indicator 2 is read for May
    result = twenty_week_timeliness(store, MAY, LLR)
    by_area = {f.area: f for f in result.figures}
    # then 856: 4 issued, 1 exception, 1 without request, 2 counted, 1 within = 50.0%
    la856 = by_area["856"]
    assert (la856.issued, la856.exceptions, la856.no_request_recorded) == (4, 1, 1)
    assert (la856.counted, la856.within_twenty_weeks, la856.percent_within) == (2, 1, 50.0)
    # 855: 1 counted, within: 100%; 857: nothing to count, so no percentage
    assert (by_area["855"].counted, by_area["855"].percent_within) == (1, 100.0)
    assert (by_area["857"].issued, by_area["857"].percent_within) == (0, None)
    # partnership: 5 issued, 3 counted, 2 within = 66.7%
    partnership = by_area["partnership"]
    assert (partnership.issued, partnership.counted, partnership.within_twenty_weeks) == (5, 3, 2)
    assert partnership.percent_within == 66.7
    assert "140 days" in result.indicator.definition


def test_the_request_arriving_after_the_plan_completes_the_figure(store, record, events) -> None:
    # given the plan arrived first (the request's relay was behind)
    record(events.plan_issued("amira", date(2025, 5, 26)))
    before = twenty_week_timeliness(store, MAY, LLR, la="856").figures[0]
    assert (before.no_request_recorded, before.counted) == (1, 0)
    # when the request arrives
    record(events.assessment_requested("amira", date(2025, 1, 6)))
    # then the plan is counted, within time
    after = twenty_week_timeliness(store, MAY, LLR, la="856").figures[0]
    assert (after.no_request_recorded, after.counted, after.within_twenty_weeks) == (0, 1, 1)


def test_batches_in_any_order_with_duplicates_equal_a_fold_from_scratch(
    store, tmp_path, events
) -> None:
    # given a partnership's events
    history = [
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
        events.health_flag_set("amira", date(2025, 6, 3)),
        events.assessment_requested("ben", date(2025, 2, 3), la="855"),
        events.plan_issued("ben", date(2025, 7, 1), la="855", exception="school_closed_4_weeks"),
        events.plan_ceased("ben", date(2025, 9, 1), la="855"),
        events.health_flag_set("ben", date(2025, 7, 20), la="855"),
        events.health_flag_cleared("ben", date(2025, 9, 20), la="855"),
        events.referral_made("cara", date(2025, 3, 1)),
    ]
    # when they arrive shuffled, some twice, in batches of varying size
    arrived = history + history[::3]
    random.Random(7).shuffle(arrived)
    seq = 0
    while arrived:
        batch, arrived = arrived[:3], arrived[3:]
        store.apply_batch([StreamEvent(seq := seq + 1, e) for e in batch])
    # then the stored facts equal those of a fold from scratch, and so do the indicators
    assert store.person_facts() == dataset_facts(fold_all(history))
    reference = SqliteDatasetStore(tmp_path / "reference.sqlite")
    reference.apply_batch([StreamEvent(i, e) for i, e in enumerate(history, start=1)])
    months = months_between(Month(2025, 1), Month(2025, 12))
    assert active_plans(store, months, LLR).figures == active_plans(reference, months, LLR).figures
    assert (
        twenty_week_timeliness(store, months, LLR).figures
        == twenty_week_timeliness(reference, months, LLR).figures
    )
    reference.close()


def test_a_batch_at_or_below_the_position_changes_nothing(store, events) -> None:
    # given a plan applied at stream sequence 1
    plan = events.plan_issued("amira", date(2025, 5, 26))
    assert store.apply_batch([StreamEvent(1, plan)]) == 1
    # when the same batch is redelivered, and a copy is republished at a new sequence
    assert store.apply_batch([StreamEvent(1, plan)]) == 1
    assert store.apply_batch([StreamEvent(2, plan)]) == 2
    # then there is still one plan
    (figure,) = active_plans(store, MAY, LLR, la="856").figures
    assert figure.la_count == 1


def test_an_la_outside_the_partnership_is_refused_naming_the_known_ones(store) -> None:
    with pytest.raises(UnknownArea, match="'999' is not in the partnership .*855, 856, 857"):
        active_plans(store, MAY, LLR, la="999")
