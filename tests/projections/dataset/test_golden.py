"""Golden figures for indicators 3 to 6, worked out by hand from the statutory rules.

Each test states its boundary case: the day a limit falls due is still in time (exactly 6
weeks = 42 days, exactly 12 months = the same date a year on, exactly 12 weeks = 84 days), a
wait of exactly 18 weeks falls in the 18-52 band, and stocks are taken on the month's last day.
"""

from __future__ import annotations

from datetime import date

from projections.dataset.areas import Partnership
from projections.dataset.indicators.alternative_provision import alternative_provision
from projections.dataset.indicators.health_waits import health_waits
from projections.dataset.periods import Month

LLR = Partnership.of()
MARCH, MAY, JUNE = Month(2025, 3), Month(2025, 5), Month(2025, 6)


def test_a_decision_exactly_six_weeks_after_the_request_is_within_time(
    store, record, events, raw
) -> None:
    # given requests on Monday 3 March 2025; 6 weeks later is Monday 14 April (3 + 42 days)
    record(
        events.assessment_requested("amira", date(2025, 3, 3)),
        events.assessment_decided("amira", date(2025, 4, 14)),  # day 42: within
        events.assessment_requested("ben", date(2025, 3, 3)),
        events.assessment_decided("ben", date(2025, 4, 15)),  # day 43: late
        events.assessment_decided("cara", date(2025, 4, 1), decision="refuse"),  # no request
    )
    # then April counts 3 decisions, 1 without a request, 2 counted, 1 within 6 weeks
    assert raw(store, "decision-timeliness", Month(2025, 4)) == {
        "decided": 3,
        "no_request_recorded": 1,
        "counted": 2,
        "within": 1,
        "late": 1,
    }


def test_advice_returned_before_the_request_arrives_is_matched_when_it_does(
    store, record, events, raw
) -> None:
    # given the ICB's advice (asked 3 March, returned 14 April = day 42) lands first
    record(events.advice_returned("amira", date(2025, 4, 14), ref="A1"))
    assert raw(store, "advice-timeliness", Month(2025, 4), group="health") == {
        "returned": 1,
        "no_request_recorded": 1,
    }
    # when the LA's request arrives, and another advice is returned on day 43
    record(
        events.advice_requested("amira", date(2025, 3, 3), ref="A1"),
        events.advice_requested("ben", date(2025, 3, 3), ref="A2", giver="educational_psychology"),
        events.advice_returned(
            "ben", date(2025, 4, 15), ref="A2", giver="educational_psychology", by="856"
        ),
    )
    # then health's advice is counted within 6 weeks and the EP's as late, each by its giver
    assert raw(store, "advice-timeliness", Month(2025, 4), group="health") == {
        "returned": 1,
        "counted": 1,
        "within": 1,
    }
    assert raw(store, "advice-timeliness", Month(2025, 4), group="educational_psychology") == {
        "returned": 1,
        "counted": 1,
        "late": 1,
    }


def test_a_review_exactly_twelve_months_after_issue_is_within_time(
    store, record, events, raw
) -> None:
    # given a plan issued 15 May 2024: the first review is due by 15 May 2025
    record(
        events.plan_issued("amira", date(2024, 5, 15)),
        events.review_held("amira", date(2025, 5, 15)),  # exactly 12 months: within
        events.plan_issued("ben", date(2024, 5, 15), plan="P2", case="C2"),
        events.review_held("ben", date(2025, 5, 16), plan="P2"),  # a day late
        events.review_held("cara", date(2025, 5, 20), plan="P3"),  # plan's issue not known
    )
    assert raw(store, "annual-review-timeliness", MAY) == {
        "held": 3,
        "no_issue_recorded": 1,
        "counted": 2,
        "within": 1,
        "late": 1,
    }


def test_the_second_review_is_timed_from_the_first(store, record, events, raw) -> None:
    # given a plan issued 31 January 2023, reviewed 31 January 2024 and then 28 February 2025
    # (13 months after the last review: late, though within 25 months of issue)
    record(
        events.plan_issued("amira", date(2023, 1, 31)),
        events.review_held("amira", date(2024, 1, 31)),
        events.review_held("amira", date(2025, 2, 28)),
    )
    assert raw(store, "annual-review-timeliness", Month(2025, 2)) == {
        "held": 1,
        "counted": 1,
        "late": 1,
    }


def test_an_amended_plan_exactly_twelve_weeks_after_the_meeting_is_within_time(
    store, record, events, raw
) -> None:
    # given review meetings on 3 March 2025; 12 weeks later is 26 May (3 + 84 days)
    meeting = date(2025, 3, 3)
    record(
        events.plan_amended("amira", date(2025, 5, 26), review=meeting),  # day 84: within
        events.plan_amended("ben", date(2025, 5, 27), review=meeting),  # day 85: late
        events.plan_amended("cara", date(2025, 5, 28), trigger="phase_transfer"),  # no review
    )
    assert raw(store, "amendment-timeliness", MAY) == {
        "amended": 2,
        "counted": 2,
        "within": 1,
        "late": 1,
    }


def test_waiting_bands_at_the_month_end_put_exactly_eighteen_weeks_in_18_to_52(
    store, record, events, raw
) -> None:
    # given the LA knows each child (a request), and referrals waiting at 31 May 2025:
    end = date(2025, 5, 31)
    people = {"amira": 125, "ben": 126, "cara": 363, "dev": 364}  # days waited at 31 May
    for name, days in people.items():
        record(
            events.assessment_requested(name, date(2025, 1, 6)),
            events.referral_made(name, date.fromordinal(end.toordinal() - days)),
        )
    # then 125 days (17.9 weeks) is 0-18; 126 days (exactly 18 weeks) and 363 are 18-52;
    # 364 days (exactly 52 weeks) is 52+
    assert raw(store, "health-waits", MAY, group="neurodevelopmental") == {
        "waiting": 4,
        "waiting_0_18_weeks": 1,
        "waiting_18_52_weeks": 2,
        "waiting_52_plus_weeks": 1,
        "waiting_for_diagnosis": 4,
        "diagnosis_waiting_0_18_weeks": 1,
        "diagnosis_waiting_18_52_weeks": 2,
        "diagnosis_waiting_52_plus_weeks": 1,
    }


def test_the_wait_for_diagnosis_is_banded_by_weeks_since_referral_even_after_assessment(
    store, record, events, raw
) -> None:
    # given at 31 May 2025: amira referred 60 weeks before and assessed 10 weeks after her
    # referral, never diagnosed; ben referred 10 weeks before, not yet assessed
    end = date(2025, 5, 31)
    amira_referred = date.fromordinal(end.toordinal() - 7 * 60)
    record(
        events.assessment_requested("amira", date(2024, 1, 8)),
        events.referral_made("amira", amira_referred),
        events.assessment_started("amira", date.fromordinal(amira_referred.toordinal() + 70)),
        events.assessment_requested("ben", date(2025, 1, 6)),
        events.referral_made("ben", date.fromordinal(end.toordinal() - 7 * 10)),
    )
    # then only ben waits for an assessment (0-18), but both wait for a diagnosis: ben 0-18,
    # amira 52+ (60 weeks from referral, her assessment notwithstanding)
    assert raw(store, "health-waits", MAY, group="neurodevelopmental") == {
        "waiting": 1,
        "waiting_0_18_weeks": 1,
        "waiting_for_diagnosis": 2,
        "diagnosis_waiting_0_18_weeks": 1,
        "diagnosis_waiting_52_plus_weeks": 1,
    }


def test_a_wait_ends_with_the_first_assessment_and_its_length_is_measured(
    store, record, events, raw
) -> None:
    # given five first assessments on 30 June 2025 after waits of 20, 21, 22, 24 and 30 weeks
    # (referred that many weeks before), and one referral of 6 January still waiting
    june_30 = date(2025, 6, 30)
    for name, weeks in {"a": 22, "b": 20, "c": 30, "d": 21, "e": 24}.items():
        record(
            events.assessment_requested(name, date(2024, 12, 2)),
            events.referral_made(name, date.fromordinal(june_30.toordinal() - 7 * weeks)),
            events.assessment_started(name, june_30),
        )
    record(
        events.assessment_requested("f", date(2024, 12, 2)),
        events.referral_made("f", date(2025, 1, 6)),
    )
    # then at the end of June one is waiting and five started in June; all six still wait for
    # a diagnosis
    assert raw(store, "health-waits", JUNE, group="neurodevelopmental") == {
        "waiting": 1,
        "waiting_18_52_weeks": 1,
        "started": 5,
        "waiting_for_diagnosis": 6,
        "diagnosis_waiting_18_52_weeks": 6,
    }
    # and the published median of 20, 21, 22, 24, 30 is 22 weeks; the 90th percentile
    # (inclusive method: position 1 + 0.9 x 4 = 4.6 between 24 and 30) is 24 + 0.6 x 6 = 27.6
    row = next(
        f
        for f in health_waits(store, [JUNE], LLR, la="856").figures
        if f.pathway == "neurodevelopmental"
    )
    assert (row.started, row.median_weeks, row.p90_weeks) == (5, 22.0, 27.6)
    assert row.waiting == "<5"


def test_ap_placements_by_tier_provider_part_time_and_reintegration(
    store, record, events, raw
) -> None:
    # given LA 856 commissions placements; at the end of March 2025:
    record(
        events.placement_commissioned("a", date(2025, 1, 6), placement="P-a", tier=2),
        events.placement_started("a", date(2025, 1, 13), placement="P-a", tier=2, part_time=True),
        events.placement_started("b", date(2025, 2, 3), placement="P-b", tier=3, provider="AP002"),
        # ended on 31 March, the month end itself: no longer active then; reintegrated
        events.placement_started("c", date(2025, 1, 6), placement="P-c", tier=1),
        events.placement_ended("c", date(2025, 3, 31), placement="P-c"),
        # ended in March after 8 weeks, moved on
        events.placement_started("d", date(2025, 1, 20), placement="P-d", tier=3),
        events.placement_ended("d", date(2025, 3, 17), placement="P-d", outcome="moved"),
        # a part-time timetable at the pupil's school (the pupil's LA is 856 from a request)
        events.assessment_requested("e", date(2024, 9, 2)),
        events.timetable_started("e", date(2025, 3, 3)),
    )
    # then 2 are active (tier 2 part time at AP001, tier 3 at AP002), 2 ended, 1 reintegrated
    assert raw(store, "alternative-provision", MARCH) == {
        "active": 2,
        "tier_2": 1,
        "tier_3": 1,
        "provider:AP001": 1,
        "provider:AP002": 1,
        "part_time": 1,
        "full_time": 1,
        "part_time_timetables": 1,
        "ended": 2,
        "reintegrated": 1,
        "not_reintegrated": 1,
    }
    # and, published, all are below 5: hidden, with no rate or median
    (row,) = alternative_provision(store, [MARCH], LLR, la="856").figures
    assert (row.active, row.reintegration_rate, row.median_weeks_in_placement) == ("<5", None, None)


def test_ap_reintegration_rate_and_median_length_when_enough_ended(
    store, record, events, raw
) -> None:
    # given eleven placements that ended on 30 April 2025 after 10, 11, ... 20 weeks; six were
    # reintegrated, five moved on
    april_30 = date(2025, 4, 30)
    for number, weeks in enumerate(range(10, 21)):
        placement = f"P-{number}"
        record(
            events.placement_started(
                f"kid{number}",
                date.fromordinal(april_30.toordinal() - 7 * weeks),
                placement=placement,
            ),
            events.placement_ended(
                f"kid{number}",
                april_30,
                placement=placement,
                outcome="reintegrated" if number % 2 == 0 else "moved",
            ),
        )
    (row,) = alternative_provision(store, [Month(2025, 4)], LLR, la="856").figures
    # then 11 ended; 6 reintegrated = 54.5%; the median of 10..20 weeks is 15
    assert (row.ended, row.reintegrated, row.reintegration_rate) == (11, 6, 54.5)
    assert row.median_weeks_in_placement == 15.0


def test_a_reintegration_count_that_would_reveal_a_small_remainder_is_hidden(
    store, record, events
) -> None:
    # given six placements ended in April, five reintegrated: showing 6 and 5 would reveal
    # that exactly one was not
    for number in range(6):
        placement = f"P-{number}"
        record(
            events.placement_started(f"kid{number}", date(2025, 1, 6), placement=placement),
            events.placement_ended(
                f"kid{number}",
                date(2025, 4, 7),
                placement=placement,
                outcome="reintegrated" if number else "moved",
            ),
        )
    (row,) = alternative_provision(store, [Month(2025, 4)], LLR, la="856").figures
    # then the 6 ended are shown, the 5 reintegrated are hidden ("c"), and so is the rate
    assert (row.ended, row.reintegrated, row.reintegration_rate) == (6, "c", None)
    # and the median of six placements of 13 weeks each is shown
    assert row.median_weeks_in_placement == 13.0
