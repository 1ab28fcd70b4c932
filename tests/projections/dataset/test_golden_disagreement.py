"""Golden figures for indicators 11 and 12 (mediation and tribunal appeals; complaints),
worked out by hand: counts in the month their date falls in, rates per 100 decisions, time to
a decision or resolution, and the share of mediations followed by an appeal."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.disagreement import (
    AppealDecided,
    AppealRegistered,
    ComplaintReceived,
    ComplaintResolved,
    MediationAdviceSought,
    MediationHeld,
)
from projections.dataset.areas import Partnership
from projections.dataset.indicators.complaints import complaints
from projections.dataset.indicators.mediation_and_appeals import mediation_and_appeals
from projections.dataset.periods import Month

LLR = Partnership.of()
APRIL, MAY = Month(2025, 4), Month(2025, 5)


def test_mediation_and_appeals_counted_rated_per_100_decisions_and_timed(
    store, record, events, raw
) -> None:
    wrap = events.wrap
    # given ten decisions in April 2025: nine decisions whether to assess and one plan issued
    for n in range(9):
        record(events.assessment_decided(f"k{n}", date(2025, 4, 7), case=f"C{n}"))
    record(events.plan_issued("k9", date(2025, 4, 30), case="C9", plan="P9"))
    # mediation advice sought on 31 March (March, not April) and on 1 April
    record(
        wrap(MediationAdviceSought(case_id="C0", sought_on=date(2025, 3, 31), stage="request"),
             "k0", "856", date(2025, 3, 31)),
        wrap(MediationAdviceSought(case_id="C1", sought_on=date(2025, 4, 1), stage="request"),
             "k1", "856", date(2025, 4, 1)),
    )
    # five mediations held in April, one ending in agreement; k0's case is appealed on the
    # day of its mediation and k1's in May: both followed by an appeal; k2's appeal came
    # before its mediation: not followed
    for n in range(5):
        held = date(2025, 4, 14)
        record(wrap(MediationHeld(case_id=f"C{n}", held_on=held, stage="request",
                                  agreement_reached=n == 4), f"k{n}", "856", held))
    for n, registered in ((0, date(2025, 4, 14)), (1, date(2025, 5, 6)), (2, date(2025, 4, 1))):
        record(wrap(AppealRegistered(case_id=f"C{n}", appeal_id=f"T{n}", registered_on=registered,
                                     stage="request"), f"k{n}", "856", registered))
    # five older appeals decided in April after 20, 22, 24, 26 and 30 weeks
    decided = date(2025, 4, 28)
    outcomes = ("upheld", "upheld", "upheld", "dismissed", "conceded")
    for n, (weeks, outcome) in enumerate(zip((22, 20, 30, 24, 26), outcomes, strict=True)):
        registered = decided - timedelta(weeks=weeks)
        person, case = f"old{n}", f"OC{n}"
        record(
            wrap(AppealRegistered(case_id=case, appeal_id=f"OT{n}", registered_on=registered,
                                  stage="plan"), person, "856", registered),
            wrap(AppealDecided(case_id=case, appeal_id=f"OT{n}", decided_on=decided,
                               outcome=outcome), person, "856", decided),
        )
    assert raw(store, "mediation-and-appeals", APRIL) == {
        "decisions": 10,
        "mediation_advice": 1,
        "mediations": 5,
        "agreed": 1,
        "not_agreed": 4,
        "followed_by_appeal": 2,
        "not_followed": 3,
        "appeals_registered": 2,  # k0's and k2's (k1's is May's)
        "mediation_advice@request": 1,
        "mediations@request": 5,
        "appeals_registered@request": 2,
        "appeals_decided": 5,
        "outcome:upheld": 3,
        "outcome:dismissed": 1,
        "outcome:conceded": 1,
    }
    (row,) = mediation_and_appeals(store, [APRIL], LLR, la="856").figures
    # then 5 mediations per 10 decisions = 50.0 per 100; the median of 20..30 weeks is 24
    assert (row.decisions, row.mediations, row.mediations_per_100_decisions) == (10, 5, 50.0)
    assert row.median_weeks_to_decision == 24.0
    # and the small counts are hidden, with what is computed from them
    assert (row.followed_by_appeal, row.percent_followed_by_appeal) == ("<5", None)
    assert (row.appeals_registered, row.appeals_per_100_decisions) == ("<5", None)
    assert row.appeals_by_outcome["upheld"] == "<5"
    # and by SEN2 stage: all five mediations at the request stage, none at the others
    assert (row.by_stage["request"].mediations, row.by_stage["plan"].mediations) == (5, 0)


def test_complaints_by_receiver_and_outcome_with_the_days_to_resolution(
    store, record, events, raw
) -> None:
    wrap = events.wrap
    # given LA 856 receives three complaints in May 2025 and the ICB two about 856's children
    for n in range(3):
        record(wrap(ComplaintReceived(complaint_id=f"K{n}", received_on=date(2025, 5, 6),
                                      subject="ehc_process"), f"la{n}", "856", date(2025, 5, 6)))
    for n in range(2):
        record(
            events.registered(f"h{n}", "2012-04"),
            wrap(ComplaintReceived(complaint_id=f"H{n}", received_on=date(2025, 5, 9),
                                   subject="health_provision"), f"h{n}", "QK1", date(2025, 5, 9)),
        )
    # and five April complaints to the LA resolved on 30 May after 32, 35, 40, 45 and 50 days
    resolved = date(2025, 5, 30)
    outcomes = ("upheld", "partly_upheld", "partly_upheld", "not_upheld", "withdrawn")
    for n, (days, outcome) in enumerate(zip((40, 32, 50, 35, 45), outcomes, strict=True)):
        received = resolved - timedelta(days=days)
        record(
            wrap(ComplaintReceived(complaint_id=f"A{n}", received_on=received,
                                   subject="education_provision"), f"a{n}", "856", received),
            wrap(ComplaintResolved(complaint_id=f"A{n}", resolved_on=resolved, outcome=outcome),
                 f"a{n}", "856", resolved),
        )
    # and five decisions in May
    for n in range(5):
        record(events.assessment_decided(f"d{n}", date(2025, 5, 12), case=f"D{n}"))
    assert raw(store, "complaints", MAY) == {
        "decisions": 5,
        "received": 5,
        "received_by_la": 3,
        "received_by_health": 2,
        "resolved": 5,
        "outcome:upheld": 1,
        "outcome:partly_upheld": 2,
        "outcome:not_upheld": 1,
        "outcome:withdrawn": 1,
    }
    (row,) = complaints(store, [MAY], LLR, la="856").figures
    # then 5 received per 5 decisions = 100.0 per 100; the median of 32..50 days is 40
    assert (row.received, row.complaints_per_100_decisions) == (5, 100.0)
    assert (row.resolved, row.median_days_to_resolution) == (5, 40.0)
    # and the upheld share (3 of 5) is not shown: its parts are below 5
    assert (row.resolved_by_outcome["upheld"], row.percent_upheld) == ("<5", None)
