"""Golden figures for a go-live extract plus live events, worked out by hand.

Plans in force when the LA joins (`ehc.plan_in_force_recorded`) are active and in the
discrepancy from day one; they are new plans issued only when the go-live record gives the
request date; a first review after go-live is judged from the last review the record gives.
"""

from __future__ import annotations

from datetime import date

from projections.dataset.areas import Partnership
from projections.dataset.indicators import INDICATORS
from projections.dataset.indicators.health_waits import health_waits
from projections.dataset.periods import Month

MAY, JUNE, NOVEMBER = Month(2025, 5), Month(2025, 6), Month(2025, 11)
JUNE_30 = date(2025, 6, 30)
LLR = Partnership.of()


def test_plans_in_force_at_go_live_are_active_but_not_new_unless_their_request_is_known(
    store, record, events, raw
) -> None:
    # given the go-live extract: amira's plan from 2019 (health flags it too), dev's issued
    # 12 May 2025 with no request on record, ben's issued 5 May 2025 with its request of
    # 16 December 2024 (day 140: within 20 weeks); and cara's plan observed live
    record(
        events.plan_in_force("amira", date(2019, 3, 4), case="C1", plan="P1"),
        events.health_flag_set("amira", date(2025, 1, 20)),
        events.plan_in_force("dev", date(2025, 5, 12), case="C4", plan="P4"),
        events.plan_in_force(
            "ben", date(2025, 5, 5), case="C2", plan="P2", requested_on=date(2024, 12, 16)
        ),
        events.assessment_requested("cara", date(2025, 1, 6), case="C3"),
        events.plan_issued("cara", date(2025, 5, 19), case="C3", plan="P3"),  # day 133
    )
    # then at the end of May the LA maintains 4 plans, amira's also on health's side
    assert raw(store, "active-plans", MAY) == {
        "la_count": 4, "health_count": 1, "both": 1, "la_only": 3,
    }
    # and May's new plans are ben's (request given) and cara's, both within 20 weeks; dev's
    # plan is not a new plan issued, nor one "without a request"
    assert raw(store, "twenty-week-timeliness", MAY) == {
        "issued": 2,
        "counted": 2,
        "within": 2,
    }


def test_the_first_review_after_go_live_is_judged_from_the_last_review_on_record(
    store, record, events, raw
) -> None:
    # given plans in force since 2019/2020 whose last reviews were 15 November 2024 and
    # 1 May 2024, then reviews observed live on 14 November 2025 and 30 May 2025
    record(
        events.plan_in_force("amira", date(2019, 3, 4), last_reviewed_on=date(2024, 11, 15)),
        events.review_held("amira", date(2025, 11, 14)),  # within 12 months of 15 Nov 2024
        events.plan_in_force("eve", date(2020, 1, 6), last_reviewed_on=date(2024, 5, 1)),
        events.review_held("eve", date(2025, 5, 30)),  # due by 1 May 2025: late
    )
    # then November counts amira's review within time (from 2019 it would be late) and May
    # eve's as late; the reviews before go-live are not themselves counted
    assert raw(store, "annual-review-timeliness", NOVEMBER) == {
        "held": 1, "counted": 1, "within": 1,
    }
    assert raw(store, "annual-review-timeliness", MAY) == {"held": 1, "counted": 1, "late": 1}
    assert raw(store, "annual-review-timeliness", Month(2024, 11)) == {}


def test_assessments_recorded_at_their_step_count_with_the_las_own_dates(
    store, record, events, raw
) -> None:
    # given the go-live extract, counted at the end of June 2025: "a" awaiting a decision since
    # 2 June (4 weeks); "b" assessing since its decision of 10 March on a request of 3 February
    # (21 weeks); "c" refused on 14 April, 6 weeks after its request of 3 March (within);
    # "d" assessed and not issued on 30 May; then, live, "b"'s plan issued on 30 June
    record(
        events.assessment_at_step("a", date(2025, 6, 2), "awaiting_decision", case="C-a"),
        events.assessment_at_step("b", date(2025, 2, 3), "assessing", case="C1",
                                  decided_on=date(2025, 3, 10)),
        events.assessment_at_step("c", date(2025, 3, 3), "refused_to_assess", case="C-c",
                                  decided_on=date(2025, 4, 14)),
        events.assessment_at_step("d", date(2025, 2, 3), "not_issued", case="C-d",
                                  decided_on=date(2025, 3, 17), not_issued_on=date(2025, 5, 30)),
    )
    # then the backlog at the end of May holds only "b", assessing (16.7 weeks: 6-20): "a" was
    # requested in June, "c" and "d" had closed; at the end of June "a" awaits a decision (0-6)
    # and "b" is assessing (21 weeks: 20+)
    assert raw(store, "open-requests", MAY, group="assessing") == {
        "open": 1, "open_6_20_weeks": 1,
    }
    assert raw(store, "open-requests", JUNE, group="awaiting_decision") == {
        "open": 1, "open_0_6_weeks": 1,
    }
    assert raw(store, "open-requests", JUNE, group="assessing") == {
        "open": 1, "open_20_plus_weeks": 1,
    }
    # and April counts c's refusal, judged from its real request: day 42, within 6 weeks
    assert raw(store, "decision-timeliness", Month(2025, 4)) == {
        "decided": 1, "counted": 1, "within": 1,
    }
    # and when b's plan is issued live on 30 June (day 147 from 3 February: late), it is a new
    # plan judged against the request the go-live record gave
    record(events.plan_issued("b", JUNE_30, case="C1", plan="P1"))
    assert raw(store, "twenty-week-timeliness", JUNE) == {
        "issued": 1, "counted": 1, "late": 1,
    }


def test_each_plan_indicator_says_how_go_live_facts_are_counted() -> None:
    definitions = {i.id: i.definition for i in INDICATORS}
    for slug in ("active-plans", "twenty-week-timeliness", "annual-review-timeliness"):
        assert "ehc.plan_in_force_recorded" in definitions[slug], slug
    for slug in ("open-requests", "decision-timeliness", "twenty-week-timeliness"):
        assert "ehc.assessment_step_recorded" in definitions[slug], slug


def test_a_diagnosis_naming_the_referral_ends_both_waits_and_a_closed_referral_is_apart(
    store, record, events, raw
) -> None:
    # given neurodevelopmental referrals of children the LA knows (a request each):
    people = ("a", "b", "c", "d", "e", "f", "g")
    for name in people:
        record(events.assessment_requested(name, date(2024, 12, 2), case=f"C-{name}"))
    record(
        # five diagnosed on 30 June 2025 after 20, 21, 22, 24 and 30 weeks; "a" by another
        # trust naming RT5's referral, none with an assessment_started sent
        *(
            e
            for name, weeks in {"a": 22, "b": 20, "c": 30, "d": 21, "e": 24}.items()
            for e in (
                events.referral_made(name, date.fromordinal(JUNE_30.toordinal() - 7 * weeks)),
                events.diagnosis(name, JUNE_30, by="RWE" if name == "a" else "RT5",
                                 referral="R1", referral_org="RT5" if name == "a" else None),
            )
        ),
        # one recorded at go-live, open since 6 January 2025; one closed on 10 June (moved away)
        events.referral_made("f", date(2025, 1, 6)),
        events.referral_made("g", date(2025, 2, 3)),
        events.referral_closed("g", date(2025, 6, 10)),
    )
    # then at the end of June only "f" waits (for assessment and for diagnosis), five were
    # diagnosed in June and one closed without assessment (not started, not waiting)
    assert raw(store, "health-waits", JUNE, group="neurodevelopmental") == {
        "waiting": 1,
        "waiting_18_52_weeks": 1,
        "waiting_for_diagnosis": 1,
        "diagnosis_waiting_18_52_weeks": 1,  # "f": 25 weeks since 6 January
        "diagnosed": 5,
        "closed_without_assessment": 1,
    }
    # and the diagnosis waits' median of 20, 21, 22, 24, 30 is 22 weeks, the 90th percentile
    # (inclusive: position 4.6, between 24 and 30) 27.6 weeks
    row = next(
        f for f in health_waits(store, [JUNE], LLR, la="856").figures
        if f.pathway == "neurodevelopmental"
    )
    assert (row.diagnosed, row.diagnosis_median_weeks, row.diagnosis_p90_weeks) == (5, 22.0, 27.6)
    assert (row.started, row.median_weeks) == (0, None)
    # and at the end of May all seven were still waiting, "g" too (it closed in June)
    may = raw(store, "health-waits", MAY, group="neurodevelopmental")
    assert (may["waiting"], may["waiting_for_diagnosis"]) == (7, 7)
