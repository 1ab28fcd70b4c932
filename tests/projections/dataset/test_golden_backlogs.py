"""Golden figures for the backlogs, worked out by hand: what is open on a day, and how old.

The boundaries: work closed on the day is no longer open; an age of exactly 6 (or 12, 20)
weeks falls in the band that starts there; a review due on the day itself is not yet
overdue, nor an amendment on the 84th day after its meeting.
"""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from projections.dataset.areas import Partnership
from projections.dataset.indicators import referrals_waiting
from projections.dataset.periods import Month
from projections.serving.api import create_app

JUNE = Month(2025, 6)


def test_open_requests_by_step_and_weeks_since_the_request(store, record, events, raw) -> None:
    # given, counted on 30 June 2025 (June's last day):
    record(
        events.assessment_requested("a", date(2025, 6, 2)),  # 4 weeks: awaiting, 0-6
        events.assessment_requested("b", date(2025, 5, 19)),  # exactly 6 weeks: awaiting, 6-20
        events.assessment_requested("c", date(2025, 2, 3)),  # 21 weeks, assessing: 20+
        events.assessment_decided("c", date(2025, 3, 10)),
        events.assessment_requested("g", date(2025, 2, 10)),  # exactly 20 weeks, assessing: 20+
        events.assessment_decided("g", date(2025, 3, 20)),
        events.assessment_requested("d", date(2025, 2, 3)),  # plan issued on the day: closed
        events.plan_issued("d", date(2025, 6, 30)),
        events.assessment_requested("e", date(2025, 3, 3)),  # refused 1 April: closed
        events.assessment_decided("e", date(2025, 4, 1), decision="refuse"),
        events.assessment_requested("f", date(2025, 3, 3)),  # not to issue, 30 May: closed
        events.assessment_decided("f", date(2025, 4, 7)),
        events.plan_not_issued("f", date(2025, 5, 30)),
    )
    assert raw(store, "open-requests", JUNE, group="awaiting_decision") == {
        "open": 2, "open_0_6_weeks": 1, "open_6_20_weeks": 1,
    }
    assert raw(store, "open-requests", JUNE, group="assessing") == {
        "open": 2, "open_20_plus_weeks": 2,
    }
    # and at the end of May d was still awaiting a decision (16.9 weeks) and f was assessing
    # until its decision not to issue on 30 May
    assert raw(store, "open-requests", Month(2025, 5), group="awaiting_decision") == {
        "open": 2, "open_0_6_weeks": 1, "open_6_20_weeks": 1,
    }
    assert raw(store, "open-requests", Month(2025, 5), group="assessing") == {
        "open": 2, "open_6_20_weeks": 2,
    }


def test_advice_outstanding_by_giver_and_age(store, record, events, raw) -> None:
    record(
        events.advice_requested("a", date(2025, 5, 19), ref="A1"),  # exactly 6 weeks: 6-12
        events.advice_requested("b", date(2025, 6, 2), ref="A2"),  # 4 weeks: 0-6
        events.advice_requested("c", date(2025, 4, 7), ref="A3",  # exactly 12 weeks: 12+
                                giver="educational_psychology"),
        events.advice_requested("d", date(2025, 6, 2), ref="A4"),  # returned on the day
        events.advice_returned("d", date(2025, 6, 30), ref="A4"),
        events.advice_returned("e", date(2025, 6, 10), ref="A5"),  # no request known
        # the plan was issued on 20 June without f's EP advice: nothing waits on it any more
        events.assessment_requested("f", date(2025, 3, 3)),
        events.advice_requested("f", date(2025, 3, 17), ref="A6",
                                giver="educational_psychology"),
        events.plan_issued("f", date(2025, 6, 20)),
    )
    assert raw(store, "advice-outstanding", JUNE, group="health") == {
        "outstanding": 2, "outstanding_0_6_weeks": 1, "outstanding_6_12_weeks": 1,
    }
    assert raw(store, "advice-outstanding", JUNE, group="educational_psychology") == {
        "outstanding": 1, "outstanding_12_plus_weeks": 1,
    }
    # on 31 May, before the plan, f's EP advice (75 days, 10.7 weeks) was outstanding beside
    # c's (54 days, 7.7 weeks)
    assert raw(store, "advice-outstanding", Month(2025, 5), group="educational_psychology") == {
        "outstanding": 2, "outstanding_6_12_weeks": 2,
    }


def test_reviews_due_and_not_held_by_weeks_overdue(store, record, events, raw) -> None:
    # counted on 30 June 2025
    record(
        events.plan_issued("a", date(2024, 6, 30)),  # due 30 June 2025, the day: not overdue
        events.plan_issued("b", date(2024, 6, 29)),  # due 29 June: 1 day overdue, 0-4
        events.plan_issued("c", date(2023, 1, 15)),  # reviewed 15 Jan 2024: due 15 Jan 2025,
        events.review_held("c", date(2024, 1, 15)),  # 166 days (23.7 weeks) overdue: 12+
        events.plan_issued("d", date(2024, 4, 1)),  # reviewed 1 April 2025: due 2026
        events.review_held("d", date(2025, 4, 1)),
        events.plan_issued("e", date(2023, 6, 2)),  # ceased: not maintained
        events.plan_ceased("e", date(2025, 5, 1)),
        events.plan_issued("f", date(2024, 5, 5)),  # due 5 May: exactly 8 weeks, 4-12
        events.plan_issued("g", date(2024, 1, 1)),  # reviewed after the day: still overdue
        events.review_held("g", date(2025, 7, 1)),  # on 30 June (180 days: 12+)
    )
    assert raw(store, "reviews-overdue", JUNE) == {
        "overdue": 4, "overdue_0_4_weeks": 1, "overdue_4_12_weeks": 1, "overdue_12_plus_weeks": 2,
    }
    # on 31 July g's review has been held (next due July 2026); a is 31 days (4.4 weeks) and
    # b 32 days overdue (4-12), f 87 days (12.4 weeks) and c 12+
    assert raw(store, "reviews-overdue", Month(2025, 7)) == {
        "overdue": 4, "overdue_4_12_weeks": 2, "overdue_12_plus_weeks": 2,
    }


def test_amendments_outstanding_past_twelve_weeks(store, record, events, raw) -> None:
    record(
        # meeting 7 April: 30 June is day 84, still within 12 weeks
        events.review_outcome("a", date(2025, 4, 28), review=date(2025, 4, 7)),
        # meeting 4 April: due 27 June, past 12 weeks on 30 June
        events.review_outcome("b", date(2025, 4, 25), review=date(2025, 4, 4)),
        # amended 20 June: done
        events.review_outcome("c", date(2025, 4, 20), review=date(2025, 4, 1)),
        events.plan_amended("c", date(2025, 6, 20), review=date(2025, 4, 1)),
        # maintained: nothing to amend; decided after the day: not yet outstanding
        events.review_outcome("d", date(2025, 4, 20), review=date(2025, 4, 1), outcome="maintain"),
        events.review_outcome("e", date(2025, 7, 1), review=date(2025, 4, 1)),
    )
    assert raw(store, "amendments-outstanding", JUNE) == {
        "outstanding": 2, "within_12_weeks": 1, "past_12_weeks": 1,
    }


def test_referrals_waiting_on_any_day(store, record, events) -> None:
    record(
        events.assessment_requested("a", date(2025, 1, 6)),
        events.referral_made("a", date(2025, 1, 1)),  # 7 May: exactly 18 weeks, 18-52
        events.assessment_requested("b", date(2025, 1, 6)),
        events.referral_made("b", date(2025, 5, 1)),  # 7 May: under a week, 0-18
        events.assessment_requested("c", date(2025, 1, 6)),
        events.referral_made("c", date(2025, 1, 1)),  # first assessment on 7 May: not waiting
        events.assessment_started("c", date(2025, 5, 7)),
    )
    with store.snapshot() as snap:
        tally = referrals_waiting.BACKLOG.counts_on(snap, date(2025, 5, 7))
    assert dict(tally[("2025-05", "neurodevelopmental")]["856"]) == {
        "waiting": 2, "waiting_0_18_weeks": 1, "waiting_18_52_weeks": 1,
    }


def test_a_backlog_on_a_day_is_published_suppressed_per_la_and_partnership(
    store, record, events
) -> None:
    # given six requests awaiting a decision at LA 856 on 2 June 2025 and one at 855
    record(*(events.assessment_requested(f"p{n}", date(2025, 5, 26)) for n in range(6)),
           events.assessment_requested("q", date(2025, 5, 26), la="855"))
    api = TestClient(create_app(store, partnership=Partnership.of(),
                                today=lambda: date(2025, 6, 30)))
    body = api.get("/api/backlogs/open-requests?as_of=2025-06-02").json()
    assert body["as_of"] == "2025-06-02"
    waiting = {f["area"]: f["open"] for f in body["figures"] if f["step"] == "awaiting_decision"}
    # 855's 1 is "<5"; the partnership's 7 less 856's 6 would reveal it, so the smaller
    # other part, 856's 6, is hidden ("c") and the partnership's 7 shown
    assert (waiting["856"], waiting["855"], waiting["857"]) == ("c", "<5", 0)
    assert waiting["partnership"] == 7
