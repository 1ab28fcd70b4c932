"""Indicators 1 and 2 over the SQLite read model, with figures worked out by hand from the rules:
the exact counts first, then what is published (suppressed, with the partnership's sum)."""

from __future__ import annotations

from datetime import date

import pytest

from projections.dataset.areas import Partnership, UnknownArea
from projections.dataset.indicators.active_plans import active_plans, discrepancy_people
from projections.dataset.indicators.twenty_week_timeliness import twenty_week_timeliness
from projections.dataset.periods import Month, months_between
from projections.reading.projection import StreamEvent

LLR = Partnership.of()
JAN, FEB, MAR, APR = (Month(2025, m) for m in range(1, 5))
MAY = [Month(2025, 5)]


def test_a_plan_counts_as_active_from_the_month_it_is_issued_until_it_ceases(
    store, record, events, raw
) -> None:
    # given a plan issued on 31 January (the last day: active at the end of January) and ceased
    # on 31 March (no longer maintained at the end of March); another issued on 1 February
    record(
        events.plan_issued("amira", date(2025, 1, 31)),
        events.plan_ceased("amira", date(2025, 3, 31)),
        events.plan_issued("ben", date(2025, 2, 1), plan="P2", case="C2"),
    )
    # then LA 856 counts 1, 2, 1, 1 people at the month ends, health nobody
    assert [raw(store, "active-plans", m).get("la_count", 0) for m in (JAN, FEB, MAR, APR)] == [
        1,
        2,
        1,
        1,
    ]
    assert raw(store, "active-plans", FEB) == {"la_count": 2, "la_only": 2}


def test_the_discrepancy_is_who_one_side_counts_and_the_other_does_not(
    store, record, events, raw
) -> None:
    # given at the end of March: amira has a plan from 856 and a health flag for 856; ben has a
    # plan but no flag; cara has a flag for 856 but no plan (cleared on 31 March = not flagged);
    # dev has a flag for 856 but his plan is from 855
    record(
        events.plan_issued("amira", date(2025, 1, 10)),
        events.health_flag_set("amira", date(2025, 1, 20)),
        events.plan_issued("ben", date(2025, 2, 3)),
        events.health_flag_set("cara", date(2025, 2, 1)),
        events.health_flag_set("eli", date(2025, 2, 1)),
        events.health_flag_cleared("eli", date(2025, 3, 31)),
        events.plan_issued("dev", date(2025, 2, 3), la="855"),
        events.health_flag_set("dev", date(2025, 2, 10), la="856"),
    )
    # then 856: LA 2 (amira, ben), health 3 (amira, cara, dev), both 1, LA only ben,
    # health only cara and dev; 855: LA only dev
    assert raw(store, "active-plans", MAR) == {
        "la_count": 2,
        "health_count": 3,
        "both": 1,
        "la_only": 1,
        "health_only": 2,
    }
    assert raw(store, "active-plans", MAR, la="855") == {"la_count": 1, "la_only": 1}
    # and the person keys are listed for authorised users, per LA
    people = discrepancy_people(store, MAR, LLR).people
    by_la = {p.la: (p.la_only, p.health_only) for p in people}
    assert by_la["856"] == (
        [events.person("ben")],
        sorted([events.person("cara"), events.person("dev")]),
    )
    assert by_la["855"] == ([events.person("dev")], [])
    assert by_la["857"] == ([], [])


def test_published_active_plans_hide_small_counts_and_what_would_reveal_them(
    store, record, events
) -> None:
    # given at the end of May 2025: LA 856 maintains 7 plans, health flags 6 of those people
    # and no one else; LA 855 maintains 9 plans, all flagged; LA 857 none
    for n in range(7):
        record(events.plan_issued(f"a{n}", date(2025, 5, 1)))
        if n < 6:
            record(events.health_flag_set(f"a{n}", date(2025, 5, 2)))
    for n in range(9):
        record(
            events.plan_issued(f"b{n}", date(2025, 5, 1), la="855"),
            events.health_flag_set(f"b{n}", date(2025, 5, 2), la="855"),
        )
    figures = {f.area: f for f in active_plans(store, MAY, LLR).figures}
    # then 856 shows 7 by the LA; "LA only" (1) is "<5"; "both" (6) would give it away as
    # 7 - 6, so it is hidden ("c"); the health count (6) would then give "both" away as 6 - 0
    # (nobody is on health's side only), so it is hidden too. Zeros stay shown.
    la856 = figures["856"]
    assert (la856.la_count, la856.la_only, la856.both, la856.health_count) == (7, "<5", "c", "c")
    assert la856.health_only == 0
    # 855: 9 and 9, all matched; 857: nothing
    assert (figures["855"].la_count, figures["855"].both, figures["855"].la_only) == (9, 9, 0)
    assert figures["857"].la_count == 0
    # the partnership: 16 by the LAs; its health count and "both" hidden like 856's
    partnership = figures["partnership"]
    assert (partnership.la_count, partnership.health_count, partnership.both) == (16, "c", "c")
    assert "last day of the month" in active_plans(store, MAY, LLR).indicator.definition


def test_twenty_week_timeliness_excludes_exceptions_and_plans_without_a_request(
    store, record, events, raw
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
        # 855: issued in June, outside the month asked for
        events.assessment_requested("fay", date(2025, 3, 1), la="855", case="C9"),
        events.plan_issued("fay", date(2025, 6, 2), la="855", case="C9"),
    )
    # then 856: 4 issued, 1 exception, 1 without request, 2 counted, 1 within, 1 late
    assert raw(store, "twenty-week-timeliness", MAY[0]) == {
        "issued": 4,
        "exceptions": 1,
        "no_request_recorded": 1,
        "counted": 2,
        "within": 1,
        "late": 1,
    }
    assert raw(store, "twenty-week-timeliness", MAY[0], la="855") == {}


def test_published_timeliness_shows_a_percentage_only_of_shown_counts(
    store, record, events
) -> None:
    # given LA 856 issued 12 plans in May 2025: 7 within 20 weeks (day 140), 5 late (day 141)
    for n in range(12):
        record(
            events.assessment_requested(f"k{n}", date(2025, 1, 6)),
            events.plan_issued(f"k{n}", date(2025, 5, 26 if n < 7 else 27)),
        )
    (figure,) = twenty_week_timeliness(store, MAY, LLR, la="856").figures
    # then 7 of 12 counted = 58.3%; no exceptions and no missing requests (0 is shown)
    assert (figure.issued, figure.counted, figure.within_twenty_weeks) == (12, 12, 7)
    assert figure.percent_within == 58.3
    assert (figure.exceptions, figure.no_request_recorded) == (0, 0)


def test_published_timeliness_hides_a_within_count_that_reveals_few_late(
    store, record, events
) -> None:
    # given 8 plans counted in May, 6 within and 2 late: showing 8 and 6 would reveal the 2
    for n in range(8):
        record(
            events.assessment_requested(f"k{n}", date(2025, 1, 6)),
            events.plan_issued(f"k{n}", date(2025, 5, 26 if n < 6 else 27)),
        )
    (figure,) = twenty_week_timeliness(store, MAY, LLR, la="856").figures
    # then the 6 within is hidden ("c") and so is the percentage
    assert (figure.counted, figure.within_twenty_weeks, figure.percent_within) == (8, "c", None)


def test_the_request_arriving_after_the_plan_completes_the_figure(
    store, record, events, raw
) -> None:
    # given the plan arrived first (the request's relay was behind)
    record(events.plan_issued("amira", date(2025, 5, 26)))
    assert raw(store, "twenty-week-timeliness", MAY[0]) == {"issued": 1, "no_request_recorded": 1}
    # when the request arrives, then the plan is counted, within time
    record(events.assessment_requested("amira", date(2025, 1, 6)))
    assert raw(store, "twenty-week-timeliness", MAY[0]) == {
        "issued": 1,
        "counted": 1,
        "within": 1,
    }


def test_a_batch_at_or_below_the_position_changes_nothing(store, events, raw) -> None:
    # given a plan applied at stream sequence 1
    plan = events.plan_issued("amira", date(2025, 5, 26))
    assert store.apply_batch([StreamEvent(1, plan)]) == 1
    # when the same batch is redelivered, and a copy is republished at a new sequence
    assert store.apply_batch([StreamEvent(1, plan)]) == 1
    assert store.apply_batch([StreamEvent(2, plan)]) == 2
    # then there is still one plan
    assert raw(store, "active-plans", MAY[0]) == {"la_count": 1, "la_only": 1}


def test_every_la_has_a_row_every_month_and_a_partnership_row(store) -> None:
    result = active_plans(store, months_between(JAN, APR), LLR)
    assert [(f.month, f.area) for f in result.figures[:4]] == [
        ("2025-01", "855"),
        ("2025-01", "856"),
        ("2025-01", "857"),
        ("2025-01", "partnership"),
    ]
    assert len(result.figures) == 16


def test_an_la_outside_the_partnership_is_refused_naming_the_known_ones(store) -> None:
    with pytest.raises(UnknownArea, match="'999' is not in the partnership .*855, 856, 857"):
        active_plans(store, MAY, LLR, la="999")
