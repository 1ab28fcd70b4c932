"""Annual health check uptake, worked out by hand: who is on the learning disability register
(aged 14+, diagnosis recorded by the day) and who had a check in the 12 months to the day.
The boundary: a check exactly a year before the day is outside the 12 months."""

from __future__ import annotations

from datetime import date

from projections.dataset.areas import Partnership
from projections.tracker.queries import health_checks, register_rating, support_register_on

LLR = Partnership.of()
JUNE_2025 = date(2025, 6, 1)
LD = "learning_disability"


def test_uptake_counts_people_aged_14_plus_on_the_register_checked_in_the_year(
    tracker_store, record, events
) -> None:
    record(
        # a: 14 on 30 April 2025, checked exactly a year before the day: not in the 12 months
        events.registered("a", "2011-04"), events.diagnosis("a", date(2018, 1, 1), LD),
        events.health_check("a", date(2024, 6, 1)),
        # b: 14, checked the day after that: in the 12 months
        events.registered("b", "2011-04"), events.diagnosis("b", date(2018, 1, 1), LD),
        events.health_check("b", date(2024, 6, 2)),
        # c: 14 only on 30 June 2025: not yet on the register for this
        events.registered("c", "2011-06"), events.diagnosis("c", date(2018, 1, 1), LD),
        events.health_check("c", date(2025, 5, 1)),
        # d: 25, checked in May: on the register (no upper age) and checked
        events.registered("d", "2000-01"), events.diagnosis("d", date(2010, 1, 1), LD),
        events.health_check("d", date(2025, 5, 1)),
        # e: autism only; f: diagnosed the day after: neither on the register
        events.registered("e", "2005-01"), events.diagnosis("e", date(2010, 1, 1)),
        events.registered("f", "2010-01"), events.diagnosis("f", date(2025, 6, 2), LD),
    )
    # then LA 856 has 3 on the register (a, b, d), 2 checked: both below 5, published "<5"
    # and, without the partnership row to derive them from, nothing else is hidden
    (la856,) = health_checks(tracker_store, JUNE_2025, LLR, la="856").figures
    assert (la856.on_register, la856.checked, la856.percent_checked) == ("<5", "<5", None)
    definition = health_checks(tracker_store, JUNE_2025, LLR).indicator.definition
    assert "12 months to the day" in definition


def test_uptake_is_published_as_a_percentage_when_the_counts_are_large_enough(
    tracker_store, record, events
) -> None:
    # given 10 people of 856 on the register: 5 checked in March 2025, 5 last checked in 2023
    for n in range(10):
        record(events.registered(f"p{n}", "2008-03"),
               events.diagnosis(f"p{n}", date(2015, 1, 1), LD),
               events.health_check(f"p{n}", date(2025, 3, 3) if n < 5 else date(2023, 3, 3)))
    figures = {f.area: f for f in health_checks(tracker_store, JUNE_2025, LLR).figures}
    assert (figures["856"].on_register, figures["856"].checked, figures["856"].percent_checked
            ) == (10, 5, 50.0)
    assert (figures["partnership"].on_register, figures["partnership"].checked) == (10, 5)
    # and one more not checked makes 6 of 11 not checked: still 5 checked, 45.5%
    record(events.registered("q", "2008-03"), events.diagnosis("q", date(2015, 1, 1), LD))
    only = health_checks(tracker_store, JUNE_2025, LLR, la="856").figures[0]
    assert (only.on_register, only.checked, only.percent_checked) == (11, 5, 45.5)


def test_the_support_register_by_latest_rating_and_age_band(tracker_store, record, events) -> None:
    # given ratings up to 1 June 2025 (the latest one on or before the day counts):
    record(
        events.registered("r1", "2011-04"), events.diagnosis("r1", date(2018, 1, 1)),  # 14
        events.dsr("r1", date(2025, 1, 1), "amber"), events.dsr("r1", date(2025, 5, 1), "red"),
        events.registered("r2", "2007-05"), events.diagnosis("r2", date(2018, 1, 1)),  # 18
        events.dsr("r2", date(2025, 2, 1), "green"),
        events.dsr("r2", date(2025, 6, 2), "red"),  # after the day: still green on it
        events.registered("r3", "2012-01"), events.diagnosis("r3", date(2018, 1, 1)),  # 13
        events.dsr("r3", date(2025, 3, 1), "amber"),
        events.registered("r4", "1995-01"), events.diagnosis("r4", date(2018, 1, 1)),  # 30
        events.dsr("r4", date(2024, 3, 1), "red"),
        events.dsr("r4", date(2025, 3, 1), "removed"),  # removed: not on the register
    )
    with tracker_store.snapshot() as snap:
        rows = snap.rows("young_people")
    ratings = sorted((r.rating, r.age) for p in rows
                     if (r := register_rating(p.tracker_facts(), JUNE_2025)))
    assert ratings == [("amber", 13), ("green", 18), ("red", 14)]
    (la856,) = support_register_on(tracker_store, JUNE_2025, LLR, la="856").figures
    assert (la856.on_register, la856.red, la856.aged_0_13, la856.aged_26_plus) == (
        "<5", "<5", "<5", 0)
