"""The partnership's targets: checked when read, each figure judged against the target in force
on its month, and year to date and rolling 12 months beside the monthly figures (by hand)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from projections.dataset.indicators import MONTHLY
from projections.dataset.reference import BadReference, parse_england, parse_reference
from projections.dataset.targets import (
    DEFAULT_FILE,
    BadTargets,
    figure_fields,
    load_targets,
    parse_targets,
)
from projections.serving.api import create_app

KNOWN = {spec.indicator.id: figure_fields(spec.model) for spec in MONTHLY}
TRAJECTORY = """
[[target]]
indicator = "twenty-week-timeliness"
source = "improvement plan"
amber_margin = 5
trajectory = [{ from = "2023-09", value = 15 }, { from = "2025-05", value = 40 }]
"""


def test_the_shipped_targets_file_is_valid_and_says_where_each_target_comes_from() -> None:
    targets = load_targets(DEFAULT_FILE, KNOWN)
    assert {t.indicator for t in targets} >= {"twenty-week-timeliness", "annual-review-timeliness",
                                              "amendment-timeliness"}
    assert all(t.source for t in targets)


@pytest.mark.parametrize(("text", "says"), [
    (TRAJECTORY.replace("twenty-week-timeliness", "speed"),
     "target 1 (speed): no such indicator; known: active-plans"),
    (TRAJECTORY + 'figure = "pace"\n', "figure 'pace' is not one of"),
    (TRAJECTORY.replace('"2023-09"', '"Sep 2023"'), "target.0.trajectory.0.from"),
    (TRAJECTORY.replace('"2025-05"', '"2023-01"'),
     "trajectory months must rise, each once: got 2023-09, 2023-01"),
    (TRAJECTORY.replace('source = "improvement plan"', ""), "target.0.source: Field required"),
    ("[[target]\n", "not valid TOML"),
])
def test_a_bad_targets_file_is_refused_naming_the_target_and_field(text: str, says: str) -> None:
    with pytest.raises(BadTargets, match="targets.toml") as refused:
        parse_targets(text, "targets.toml", KNOWN)
    assert says in str(refused.value)


def test_the_target_in_force_and_its_rag() -> None:
    (target,) = parse_targets(TRAJECTORY, "t.toml", KNOWN)
    assert target.in_force("2023-08") is None
    assert target.in_force("2025-04").value == 15
    assert target.in_force("2025-06").value == 40
    # 40 meets 40 (green); 35 is 5 short, within the margin (amber); 34.9 is red
    assert [target.rag(v, 40) for v in (40, 35, 34.9, None)] == ["green", "amber", "red", None]


def _plans(record, events, issued: date, *, within: int, late: int, tag: str) -> None:
    # a plan issued 140 days (exactly 20 weeks) after its request is within time, 141 late
    for n in range(within + late):
        days = 140 if n < within else 141
        person = f"{tag}{n}"
        record(events.assessment_requested(person, issued - timedelta(days=days)),
               events.plan_issued(person, issued))


def test_figures_show_the_target_in_force_with_a_rag_and_the_longer_periods(
    store, record, events
) -> None:
    # given LA 856 issued 5 plans in time in March 2025, 5 in time in April, 5 late in May
    _plans(record, events, date(2025, 3, 10), within=5, late=0, tag="m")
    _plans(record, events, date(2025, 4, 10), within=5, late=0, tag="a")
    _plans(record, events, date(2025, 5, 12), within=0, late=5, tag="y")
    targets = parse_targets(TRAJECTORY, "t.toml", KNOWN)
    api = TestClient(create_app(store, today=lambda: date(2025, 5, 31), targets=targets))
    body = api.get("/api/indicators/twenty-week-timeliness?la=856&from=2025-03&to=2025-05").json()
    rags = {(c["month"], c["target"], c["value"], c["rag"]) for c in body["targets"]
            if c["period"] == "month"}
    # March and April: 100% against 15% (green); May: 0% against the new 40% (red)
    assert rags == {("2025-03", 15, 100.0, "green"), ("2025-04", 15, 100.0, "green"),
                    ("2025-05", 40, 0.0, "red")}
    assert {c["source"] for c in body["targets"]} == {"improvement plan"}
    # the longer periods are judged too: the 12 months to May, 66.7%, meet the 40%
    rolling = next(c for c in body["targets"]
                   if (c["month"], c["period"]) == ("2025-05", "rolling_12_months"))
    assert (rolling["value"], rolling["rag"]) == (66.7, "green")
    periods = {(p["month"], p["period"]): (p["counted"], p["within"], p["percent_within"])
               for p in body["periods"]}
    # the financial year starts in April: to May, 10 counted, 5 within (50.0%); March's year
    # to date is the year from April 2024 (5 of 5); the 12 months to May hold all 15 (66.7%)
    assert periods[("2025-05", "year_to_date")] == (10, 5, 50.0)
    assert periods[("2025-03", "year_to_date")] == (5, 5, 100.0)
    assert periods[("2025-05", "rolling_12_months")] == (15, 10, 66.7)


def test_england_reference_figures_are_shipped_with_source_and_period(store) -> None:
    api = TestClient(create_app(store, today=lambda: date(2025, 5, 31)))
    england = api.get("/api/reference/england").json()
    twenty = {f["period"]: f for f in england if f["indicator"] == "twenty-week-timeliness"}
    assert (twenty["2024"]["value"], twenty["2023"]["value"]) == (46.4, 50.3)
    assert twenty["2024"]["matches"] and "SEN2" in twenty["2024"]["source"]
    # and each indicator's answer carries its own national figures
    answer = api.get("/api/indicators/twenty-week-timeliness?from=2025-05&to=2025-05").json()
    assert {f["period"] for f in answer["england"]} == {"2023", "2024"}
    # a national figure counted another way is shown labelled with how it differs
    (plans,) = api.get("/api/indicators/active-plans?from=2025-05&to=2025-05").json()["england"]
    assert (plans["value"], plans["matches"]) == (638745, False) and "census day" in plans["note"]


def test_every_indicator_has_an_england_figure_or_says_why_it_has_none(store) -> None:
    api = TestClient(create_app(store, today=lambda: date(2025, 5, 31)))
    for spec in MONTHLY:
        body = api.get(f"/api/indicators/{spec.indicator.id}?from=2025-05&to=2025-05").json()
        assert bool(body["england"]) != bool(body["no_england_comparator"]), spec.indicator.id
    health = api.get("/api/indicators/annual-health-checks?from=2025-05&to=2025-05").json()
    assert "no England uptake figure" in health["no_england_comparator"]


@pytest.mark.parametrize(("text", "says"), [
    ('[[no_comparator]]\nindicator = "speed"\nreason = "none"\n',
     "no_comparator 1 (speed): no such indicator"),
    ('[[no_comparator]]\nindicator = "complaints"\n', "no_comparator.0.reason: Field required"),
    ('[[no_comparator]]\nindicator = "complaints"\nreason = "a"\n'
     '[[no_comparator]]\nindicator = "complaints"\nreason = "b"\n',
     "no_comparator 2 (complaints): labelled twice, or it has a figure"),
])
def test_an_indicator_labelled_without_a_comparator_is_checked(text: str, says: str) -> None:
    with pytest.raises(BadReference, match="england.toml") as refused:
        parse_england(text, "england.toml", KNOWN)
    assert says in str(refused.value)


def test_a_reference_figure_whose_definition_differs_must_say_how() -> None:
    text = ('[[figure]]\nindicator = "active-plans"\nfigure = "la_count"\nperiod = "2025"\n'
            'value = 638745\nsource = "SEN2"\nmatches = false\n')
    with pytest.raises(BadReference, match="figure 1: say in 'note' how its definition differs"):
        parse_reference(text, "england.toml", KNOWN)
    assert parse_reference(text.replace("matches = false", 'matches = false\nnote = "a count"'),
                           "england.toml", KNOWN)[0].note == "a count"
