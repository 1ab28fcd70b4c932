"""Golden figures for indicators 8 to 10 (annual health checks, the dynamic support register,
the LD register against the LA's plans), worked out by hand.

Boundary cases: a birthday is the last day of the birth month (14 on 30 June 2025 for June
2011), a check exactly a year before the month end is outside the 12 months, a rating changed
or a plan ceased on the month's last day counts as changed or ceased that day.
"""

from __future__ import annotations

from datetime import date

from contracts.ehc import PlanIssued
from contracts.health import DsrStatusChanged
from projections.dataset.areas import Partnership
from projections.dataset.indicators.annual_health_checks import annual_health_checks
from projections.dataset.indicators.dynamic_support_register import dynamic_support_register
from projections.dataset.indicators.ld_register_match import ld_register_match
from projections.dataset.periods import Month
from projections.dataset.targets import checks
from projections.serving.api import default_targets

LLR = Partnership.of()
MARCH, MAY, JUNE = Month(2025, 3), Month(2025, 5), Month(2025, 6)


def test_health_check_uptake_counts_people_aged_14_and_over_checked_in_12_months(
    store, record, events, raw
) -> None:
    ld = "learning_disability"
    record(
        # amira is 14 on 30 June 2025 (born June 2011): eligible; checked exactly a year
        # before the month end: outside the 12 months
        events.registered("amira", "2011-06"),
        events.diagnosis("amira", date(2020, 3, 2), ld),
        events.health_check("amira", date(2024, 6, 30)),
        # ben is 13 (born July 2011): not eligible, though checked
        events.registered("ben", "2011-07"),
        events.diagnosis("ben", date(2020, 3, 2), ld),
        events.health_check("ben", date(2025, 6, 2)),
        # cara was diagnosed on the month end itself and checked 1 July 2024: within
        events.registered("cara", "2000-01"),
        events.diagnosis("cara", date(2025, 6, 30), ld),
        events.health_check("cara", date(2024, 7, 1)),
        # dev has an autism diagnosis only; eve's LD diagnosis is dated after June
        events.registered("dev", "2005-05"),
        events.diagnosis("dev", date(2019, 1, 7)),
        events.registered("eve", "2008-03"),
        events.diagnosis("eve", date(2025, 7, 1), ld),
    )
    assert raw(store, "annual-health-checks", JUNE) == {
        "eligible": 2,
        "checked": 1,
        "not_checked": 1,
    }
    (row,) = annual_health_checks(store, [JUNE], LLR, la="856").figures
    assert (row.eligible, row.checked, row.percent_checked) == ("<5", "<5", None)


def test_health_check_uptake_is_published_against_the_target_when_enough_are_eligible(
    store, record, events
) -> None:
    # given ten adults on the LD register, five of them checked in May 2025
    for number in range(10):
        name = f"adult{number}"
        record(
            events.registered(name, "1999-02"),
            events.diagnosis(name, date(2018, 5, 1), "learning_disability"),
        )
        if number < 5:
            record(events.health_check(name, date(2025, 5, 12)))
    (row,) = annual_health_checks(store, [MAY], LLR, la="856").figures
    # then uptake is 5 / 10 = 50.0%, judged against the partnership's file: 75% from March
    # 2022, 25 points short (beyond the 5-point amber margin), so red
    assert (row.eligible, row.checked, row.not_checked, row.percent_checked) == (10, 5, 5, 50.0)
    (check,) = checks(default_targets(), "annual-health-checks", [row])
    assert (check.target, check.target_from, check.value, check.rag) == (75.0, "2022-03", 50.0,
                                                                       "red")
    assert "seeds/001" in check.source


def _rated(events, person: str, on: date, status: str):
    return events.wrap(DsrStatusChanged(changed_on=on, status=status), person, "QK1", on)


def test_dynamic_support_register_by_rating_and_age_band_at_the_month_end(
    store, record, events, raw
) -> None:
    record(
        # a: 13 at 31 May 2025 (born May 2012, 14 only on 31 May 2026): red
        events.registered("a", "2012-05"),
        _rated(events, "a", date(2025, 1, 10), "red"),
        # b: 14 (born June 2010): amber, then green on the month end itself
        events.registered("b", "2010-06"),
        _rated(events, "b", date(2024, 11, 1), "amber"),
        _rated(events, "b", date(2025, 5, 31), "green"),
        # c: 18, red then removed from the register in April: not counted
        events.registered("c", "2006-12"),
        _rated(events, "c", date(2025, 2, 1), "red"),
        _rated(events, "c", date(2025, 4, 1), "removed"),
        # d: 27 (born January 1998): green
        events.registered("d", "1998-01"),
        _rated(events, "d", date(2023, 9, 4), "green"),
    )
    assert raw(store, "dynamic-support-register", MAY) == {
        "on_register": 3,
        "red": 1,
        "green": 2,
        "band:under_14": 1,
        "band:14_to_17": 1,
        "band:over_25": 1,
        "red:under_14": 1,
        "green:14_to_17": 1,
        "green:over_25": 1,
    }
    (row,) = dynamic_support_register(store, [MAY], LLR, la="856").figures
    assert (row.on_register, row.red, row.amber) == ("<5", "<5", 0)
    assert row.by_age_band["18_to_25"].on_register == 0


def test_a_small_rating_in_one_age_band_cannot_be_worked_out_from_the_totals(
    store, record, events
) -> None:
    # given six young adults rated amber and one child rated amber, all in LA 856
    for number in range(6):
        record(events.registered(f"y{number}", "2004-03"),
               _rated(events, f"y{number}", date(2025, 1, 6), "amber"))
    record(events.registered("child", "2015-03"),
           _rated(events, "child", date(2025, 1, 6), "amber"))
    (row,) = dynamic_support_register(store, [MAY], LLR, la="856").figures
    # then amber (7) shown with 18-25 (6) would reveal the one child: 18-25 is hidden too
    assert row.by_age_band["under_14"].amber == "<5"
    assert row.by_age_band["18_to_25"].amber == "c"
    assert row.by_age_band["18_to_25"].on_register == "c"


def _plan(events, person: str, on: date, need: str, plan: str = "P1"):
    payload = PlanIssued(case_id=f"C-{plan}", plan_id=plan, issued_on=on, primary_need=need,
                         placement="special")
    return events.wrap(payload, person, "856", on)


def test_ld_register_against_plans_naming_a_learning_difficulty(
    store, record, events, raw
) -> None:
    ld = "learning_disability"
    record(
        # a: plan with SLD and on the register: both
        _plan(events, "a", date(2023, 4, 3), "SLD"),
        events.diagnosis("a", date(2019, 1, 7), ld),
        # b: on the register, plan names ASD: health only, another primary need
        _plan(events, "b", date(2023, 4, 3), "ASD"),
        events.diagnosis("b", date(2019, 1, 7), ld),
        # c: on the register, known to the LA by a request only: health only, no plan
        events.assessment_requested("c", date(2025, 1, 6)),
        events.diagnosis("c", date(2019, 1, 7), ld),
        # d: plan with PMLD, not on the register: LA only
        _plan(events, "d", date(2024, 9, 2), "PMLD"),
        # e: plan with MLD ceased on 31 March: not counted at the month end
        _plan(events, "e", date(2022, 9, 5), "MLD"),
        events.plan_ceased("e", date(2025, 3, 31)),
    )
    assert raw(store, "ld-register-match", MARCH) == {
        "health_count": 3,
        "la_count": 2,
        "both": 1,
        "health_only": 2,
        "no_plan": 1,
        "other_need": 1,
        "la_only": 1,
    }
    (row,) = ld_register_match(store, [MARCH], LLR, la="856").figures
    assert (row.health_count, row.la_only) == ("<5", "<5")
