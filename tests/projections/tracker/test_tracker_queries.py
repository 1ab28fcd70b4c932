"""The tracker read model: filters, the same events on another day, the suppressed summary."""

from __future__ import annotations

from datetime import date

import pytest

from projections.dataset.areas import Partnership, UnknownArea
from projections.tracker.queries import (
    BadFilter,
    Page,
    TrackerFilter,
    tracker_rows,
    tracker_summary,
)

LLR = Partnership.of()
JUNE_2025 = date(2025, 6, 1)


@pytest.fixture
def young_people(record, events) -> None:
    # amira (856, plan, born April 2011) has no named worker: red, owned by 856
    # ben (855, plan, born April 2011) has one: his worst is green
    # cara (no plan, autism diagnosed by RT5, born May 2010, LA 857 registered her):
    #   named worker done, transition plan due 31 May 2025: red, owned by 857
    # dev (ADHD only) is not tracked
    record(
        events.registered("amira", "2011-04"),
        events.plan_issued("amira", date(2020, 3, 2)),
        events.registered("ben", "2011-04", by="855"),
        events.plan_issued("ben", date(2020, 3, 2), la="855"),
        events.named_worker("ben", date(2025, 4, 1), by="855"),
        events.registered("cara", "2010-05", by="857"),
        events.diagnosis("cara", date(2018, 1, 1)),
        events.named_worker("cara", date(2024, 5, 1), by="857"),
        events.registered("dev", "2010-05"),
        events.diagnosis("dev", date(2018, 1, 1), "adhd"),
    )


def keys(rows) -> list[str]:  # noqa: ANN001
    return [p.person_key for p in rows.people]


def test_everyone_tracked_with_their_overall_status(tracker_store, young_people, events) -> None:
    rows = tracker_rows(tracker_store, JUNE_2025, LLR)
    by_person = {p.person_key: (p.la, p.rag, p.overdue_owners) for p in rows.people}
    assert by_person == {
        events.person("amira"): ("856", "red", ["856"]),
        events.person("ben"): ("855", "green", []),
        events.person("cara"): ("857", "red", ["857"]),
    }
    assert rows.count == 3


def test_filters_by_la_owner_rag_and_milestone(tracker_store, young_people, events) -> None:
    def found(**where: str) -> list[str]:
        return keys(tracker_rows(tracker_store, JUNE_2025, LLR, TrackerFilter(**where)))

    assert found(la="855") == [events.person("ben")]
    assert found(owner="857") == [events.person("cara")]
    assert found(rag="green") == [events.person("ben")]
    # by milestone: the PfA review applies only to those with a plan; with rag, its own status
    assert sorted(found(milestone="pfa_review")) == sorted(
        [events.person("amira"), events.person("ben")]
    )
    assert found(milestone="transition_plan", rag="red") == [events.person("cara")]


def test_the_same_events_give_a_different_picture_on_another_day(
    tracker_store, young_people, events
) -> None:
    # a year earlier amira was 13 (not tracked) and cara's transition plan was not yet due
    earlier = tracker_rows(tracker_store, date(2024, 6, 1), LLR)
    assert [(p.person_key, p.rag) for p in earlier.people] == [(events.person("cara"), "green")]


def test_bad_filters_are_refused_naming_what_is_allowed(tracker_store) -> None:
    with pytest.raises(BadFilter, match="rag must be one of green, amber, red"):
        tracker_rows(tracker_store, JUNE_2025, LLR, TrackerFilter(rag="purple"))
    with pytest.raises(BadFilter, match="milestone must be one of pfa_review, named_worker"):
        tracker_rows(tracker_store, JUNE_2025, LLR, TrackerFilter(milestone="prom"))
    with pytest.raises(UnknownArea):
        tracker_rows(tracker_store, JUNE_2025, LLR, TrackerFilter(la="999"))


def test_the_summary_counts_by_rag_and_overdue_owner_with_suppression(
    tracker_store, record, events
) -> None:
    # given 6 young people of LA 856 born April 2011 with plans: none has a named worker; 5
    # also have a transition plan agreed; as of 1 June 2025 all 6 are red (named worker overdue)
    for n in range(6):
        record(events.registered(f"y{n}", "2011-04"), events.plan_issued(f"y{n}", date(2020, 3, 2)))
    summary = tracker_summary(tracker_store, JUNE_2025, LLR)
    figures = {f.area: f for f in summary.figures}
    la856 = figures["856"]
    assert (la856.young_people, la856.red, la856.amber, la856.green) == (6, 6, 0, 0)
    assert la856.overdue_by_owner == {"856": 6}
    assert la856.overdue_by_milestone == {"named_worker": 6}
    assert figures["partnership"].red == 6
    assert (
        summary.indicator.number == 7
        and "last day of the birth month" in summary.indicator.definition
    )
    # and when one is on track (a named worker assigned), 5 red and 1 green: the 1 is "<5"
    # and, as 6 - 5 would reveal it, the 5 red are hidden too
    record(events.named_worker("y0", date(2025, 4, 1)))
    la856 = next(
        f for f in tracker_summary(tracker_store, JUNE_2025, LLR).figures if f.area == "856"
    )
    assert (la856.young_people, la856.red, la856.green) == (6, "c", "<5")


def test_the_most_overdue_come_first_then_the_soonest_due(tracker_store, young_people,
                                                          events) -> None:
    # amira's named worker was due 30 April (32 days overdue on 1 June), cara's transition plan
    # 31 May (1 day); ben has nothing overdue
    rows = tracker_rows(tracker_store, JUNE_2025, LLR)
    assert keys(rows) == [events.person("amira"), events.person("cara"), events.person("ben")]
    one = tracker_rows(tracker_store, JUNE_2025, LLR, page=Page(2, 1))
    assert (keys(one), one.count, one.pages) == ([events.person("cara")], 3, 3)
    with pytest.raises(BadFilter, match="page_size must be from 1 to 500"):
        tracker_rows(tracker_store, JUNE_2025, LLR, page=Page(1, 0))
