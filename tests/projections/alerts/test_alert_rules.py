"""The alert rules over real read models: who is told what, on which day, and never twice."""

from __future__ import annotations

from datetime import date

from projections.alerts.evaluate import alerts_due
from projections.alerts.rules import DISCREPANCY_GRACE_DAYS

ICB = "QK1"


def said(tracker_store, store, on: date, kind: str | None = None) -> set[tuple]:  # noqa: ANN001
    """(kind, owner, person, about, due, severity) of every alert due on `on`."""
    return {
        (r.payload.kind, r.payload.owner_org, r.person_key, r.payload.about, r.payload.due_on,
         r.payload.severity)
        for r in alerts_due(tracker_store, store, on, ICB)
        if kind is None or r.payload.kind == kind
    }


def test_a_milestone_turns_amber_then_red_as_days_pass(record, events, tracker_store,
                                                       store) -> None:
    # amira (LA 856, plan, born April 2011): a transition plan is due by 15, 30 April 2026
    record(events.registered("amira", "2011-04"), events.plan_issued("amira", date(2020, 3, 2)))
    amira, due = events.person("amira"), date(2026, 4, 30)

    def transition_plan(on: date) -> set[tuple]:
        return {a for a in said(tracker_store, store, on, "milestone")
                if a[3] == "transition_plan"}

    assert transition_plan(date(2025, 6, 1)) == set()  # due in more than 90 days: green
    assert transition_plan(date(2026, 3, 1)) == {
        ("milestone", "856", amira, "transition_plan", due, "amber")}
    assert transition_plan(date(2026, 5, 1)) == {
        ("milestone", "856", amira, "transition_plan", due, "red")}
    # the same facts on another red day: the same alert (same id), not a new one
    def ids(on: date) -> set:
        return {r.payload.alert_id for r in alerts_due(tracker_store, store, on, ICB)
                if r.payload.about == "transition_plan"}

    assert ids(date(2026, 5, 1)) == ids(date(2026, 6, 1))
    assert ids(date(2026, 5, 1)).isdisjoint(ids(date(2026, 3, 1)))  # red is news after amber
    # done: no alert any more
    record(events.transition_plan("amira", date(2026, 5, 10)))
    assert transition_plan(date(2026, 6, 1)) == set()


def test_a_discrepancy_goes_to_the_side_that_does_not_count_the_person_after_the_grace(
        record, events, tracker_store, store) -> None:
    record(
        # LA 856 issued a plan on 10 January 2025; health has not flagged it
        events.plan_issued("ola", date(2025, 1, 10)),
        # health (QK1) flags a plan from LA 855, which maintains none
        events.health_flag_set("hal", date(2025, 1, 10), la="855"),
        # both sides agree about both
        events.plan_issued("both", date(2025, 1, 1)),
        events.health_flag_set("both", date(2025, 1, 1)),
    )
    ola, hal = events.person("ola"), events.person("hal")
    assert said(tracker_store, store, date(2025, 2, 1), "discrepancy") == set()  # within grace
    assert said(tracker_store, store, date(2025, 2, 15), "discrepancy") == {
        ("discrepancy", ICB, ola, "la_only:856", date(2025, 2, 7), "amber"),
        ("discrepancy", "855", hal, "health_only:855", date(2025, 2, 7), "amber"),
    }
    assert ("discrepancy", ICB, ola, "la_only:856", date(2025, 2, 7), "red") in said(
        tracker_store, store, date(2025, 5, 1), "discrepancy")
    # health flags it: the discrepancy is gone
    record(events.health_flag_set("ola", date(2025, 5, 2)))
    assert all(a[2] != ola for a in said(tracker_store, store, date(2025, 6, 1), "discrepancy"))


def test_an_la_only_discrepancy_goes_to_the_health_organisation_that_referred_the_person(
        record, events, tracker_store, store) -> None:
    record(events.referral_made("rio", date(2024, 6, 1), by="RT5"),
           events.plan_issued("rio", date(2025, 1, 10)))
    assert {a[1] for a in said(tracker_store, store, date(2025, 3, 1), "discrepancy")} == {"RT5"}


def test_a_new_plan_is_told_to_each_organisation_with_referrals_for_the_person(
        record, events, tracker_store, store) -> None:
    record(
        events.referral_made("nia", date(2024, 6, 1), by="RT5"),
        events.referral_made("nia", date(2024, 7, 1), by="QK1", referral="R2"),
        events.plan_issued("nia", date(2025, 3, 1), plan="P9"),
        events.plan_issued("noref", date(2025, 3, 1)),  # nobody in health referred them
    )
    nia, due = events.person("nia"), date(2025, 3, 1 + DISCREPANCY_GRACE_DAYS)
    assert said(tracker_store, store, date(2025, 3, 10), "new_plan") == {
        ("new_plan", "RT5", nia, "plan_issued:P9", due, "amber"),
        ("new_plan", "QK1", nia, "plan_issued:P9", due, "amber"),
    }
    # no longer new once the grace period is over (the discrepancy rule takes it from there)
    assert said(tracker_store, store, date(2025, 5, 1), "new_plan") == set()
    # a plan issued before the referral was made is news to nobody who had not referred yet
    assert said(tracker_store, store, date(2025, 2, 28), "new_plan") == set()
