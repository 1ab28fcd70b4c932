"""The query API: figures with their definitions, the lag, and errors that say what was wrong."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from projections.dataset.store import SqliteDatasetStore
from projections.serving.api import create_app
from projections.tracker.store import TrackerStore

MID_JUNE_2025 = date(2025, 6, 15)


@pytest.fixture
def api(store: SqliteDatasetStore, tracker_store: TrackerStore, record, events) -> TestClient:
    # given LA 856 received a request on 6 January 2025 and issued the plan on 26 May (day 140),
    # and health flagged the plan on 3 June; the stream holds 5 messages, 3 applied
    record(
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
        events.health_flag_set("amira", date(2025, 6, 3)),
    )

    async def stream_last_sequence() -> int:
        return 5

    app = create_app(
        store,
        tracker=tracker_store,
        stream_last_sequence=stream_last_sequence,
        today=lambda: MID_JUNE_2025,
    )
    return TestClient(app)


def test_healthz_answers(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_position_shows_the_lag_behind_the_stream(api: TestClient) -> None:
    assert api.get("/api/position").json() == {
        "projection": "dataset",
        "applied_sequence": 3,
        "stream_last_sequence": 5,
        "lag": 2,
        "partitions": [],
    }


def test_position_without_the_bus_says_the_lag_is_unknown(store: SqliteDatasetStore) -> None:
    body = TestClient(create_app(store)).get("/api/position").json()
    assert (body["applied_sequence"], body["stream_last_sequence"], body["lag"]) == (0, None, None)


def test_the_indicators_are_listed_with_their_definitions(api: TestClient) -> None:
    listed = api.get("/api/indicators").json()
    assert [(i["number"], i["id"]) for i in listed] == [
        (1, "active-plans"),
        (2, "twenty-week-timeliness"),
        (2, "open-requests"),
        (3, "decision-timeliness"),
        (3, "advice-timeliness"),
        (3, "advice-outstanding"),
        (4, "annual-review-timeliness"),
        (4, "amendment-timeliness"),
        (4, "reviews-overdue"),
        (4, "amendments-outstanding"),
        (5, "health-waits"),
        (5, "referrals-waiting"),
        (5, "health-check-uptake"),
        (5, "support-register"),
        (6, "alternative-provision"),
        (7, "transition-tracker"),
        (8, "annual-health-checks"),
        (9, "dynamic-support-register"),
        (10, "ld-register-match"),
        (11, "mediation-and-appeals"),
        (12, "complaints"),
    ]
    assert all(i["definition"] and i["source"] for i in listed)
    # every definition states the suppression rule beside the figures
    assert all('shown as "<5"' in i["definition"] for i in listed)


def test_active_plans_for_one_la_month_by_month(api: TestClient) -> None:
    body = api.get("/api/indicators/active-plans?la=856&from=2025-04&to=2025-06").json()
    assert body["indicator"]["id"] == "active-plans"
    assert body["as_at_stream_sequence"] == 3
    # one plan, flagged by health in June: a count of 1 is published as "<5", 0 as 0
    assert [(f["month"], f["la_count"], f["health_count"]) for f in body["figures"]] == [
        ("2025-04", 0, 0),
        ("2025-05", "<5", 0),
        ("2025-06", "<5", "<5"),
    ]
    assert {f["area_name"] for f in body["figures"]} == {"Leicester City Council"}


def test_without_a_period_the_last_twelve_months_are_shown_for_every_la_and_the_partnership(
    api: TestClient,
) -> None:
    figures = api.get("/api/indicators/active-plans").json()["figures"]
    months = sorted({f["month"] for f in figures})
    assert (months[0], months[-1], len(months)) == ("2024-07", "2025-06", 12)
    assert [f["area"] for f in figures if f["month"] == "2025-06"] == [
        "855",
        "856",
        "857",
        "partnership",
    ]


def test_twenty_week_timeliness_for_the_partnership(api: TestClient) -> None:
    body = api.get("/api/indicators/twenty-week-timeliness?from=2025-05&to=2025-05").json()
    partnership = next(f for f in body["figures"] if f["area"] == "partnership")
    assert partnership == {
        "month": "2025-05",
        "area": "partnership",
        "area_name": "Leicester, Leicestershire and Rutland",
        "issued": "<5",
        "exceptions": 0,
        "no_request_recorded": 0,
        "counted": "<5",
        "within_twenty_weeks": "<5",
        "percent_within": None,
    }
    assert "reg. 13" in body["indicator"]["source"]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("from=2025-13", 422,
         "'from' must be a month written YYYY-MM (e.g. 2025-01), got '2025-13'"),
        ("to=June", 422, "'to' must be a month written YYYY-MM (e.g. 2025-01), got 'June'"),
        ("from=2025-06&to=2025-01", 400, "the range starts (2025-06) after it ends (2025-01)"),
        ("from=2000-01&to=2025-01", 400, "ask for at most 120 months at a time, not 301"),
    ],
)
def test_a_bad_period_says_what_was_wrong(api: TestClient, query: str, status: int,
                                          says: str) -> None:
    for indicator in (
        "active-plans",
        "twenty-week-timeliness",
        "health-waits",
        "alternative-provision",
    ):
        response = api.get(f"/api/indicators/{indicator}?{query}")
        assert response.status_code == status
        assert response.json() == {"detail": says}


def test_an_la_outside_the_partnership_is_404_naming_the_known_las(api: TestClient) -> None:
    response = api.get("/api/indicators/twenty-week-timeliness?la=999")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "LA '999' is not in the partnership Leicester, Leicestershire and Rutland "
        "(known: 855, 856, 857)"
    )


def test_every_endpoint_is_documented(api: TestClient) -> None:
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    indicators = [
        f"/api/indicators/{i['id']}" for i in api.get("/api/indicators").json()
        if i["number"] < 7
        and i["id"] not in ("referrals-waiting", "health-check-uptake", "support-register")
    ]
    backlogs = [f"/api/backlogs/{b['id']}" for b in api.get("/api/backlogs").json()]
    for path in (
        "/healthz",
        "/api/position",
        "/api/indicators",
        *indicators,
        *backlogs,
        "/api/data-date",
        "/api/indicators/active-plans/discrepancy/people",
        "/api/tracker",
        "/api/tracker/summary",
        "/api/tracker/health-checks",
        "/api/tracker/support-register",
    ):
        operation = paths[path]["get"]
        assert operation["summary"] and operation["description"]
        assert "200" in operation["responses"]


def test_the_discrepancy_people_are_listed_for_a_month(api: TestClient, events) -> None:
    # in May the LA counts amira and health does not yet (flagged on 3 June)
    body = api.get("/api/indicators/active-plans/discrepancy/people?la=856&month=2025-05").json()
    assert body["people"] == [
        {"month": "2025-05", "la": "856", "la_only": [events.person("amira")], "health_only": []}
    ]
    assert api.get("/api/indicators/active-plans/discrepancy/people?month=May").status_code == 422


def test_every_indicator_answers_with_its_definition(api: TestClient) -> None:
    backlogs = {b["id"] for b in api.get("/api/backlogs").json()}
    for indicator in api.get("/api/indicators").json():
        path = (
            "/api/tracker/summary"
            if indicator["number"] == 7
            else "/api/tracker/health-checks"
            if indicator["id"] == "health-check-uptake"
            else "/api/tracker/support-register"
            if indicator["id"] == "support-register"
            else f"/api/backlogs/{indicator['id']}?as_of=2025-06-01"
            if indicator["id"] == "referrals-waiting"
            else f"/api/indicators/{indicator['id']}?from=2025-05&to=2025-06"
        )
        assert indicator["id"] not in backlogs or api.get(
            f"/api/backlogs/{indicator['id']}").json()["indicator"] == indicator
        body = api.get(path).json()
        assert body["indicator"] == indicator


def test_the_tracker_as_of_a_day_with_filters(api: TestClient, record, events) -> None:
    # given amira (born April 2011) now has a plan: 14 on 30 April 2025, no named worker
    record(events.registered("amira", "2011-04"))
    body = api.get("/api/tracker?as_of=2025-06-01&rag=red&owner=856").json()
    assert (body["as_of"], body["count"]) == ("2025-06-01", 1)
    (person,) = body["people"]
    assert (person["person_key"], person["age"], person["overdue_owners"]) == (
        events.person("amira"),
        14,
        ["856"],
    )
    named = next(m for m in person["milestones"] if m["milestone"] == "named_worker")
    assert (named["due_on"], named["done_on"], named["rag"]) == ("2025-04-30", None, "red")
    # a day before her 14th birthday she is not in the tracker
    assert api.get("/api/tracker?as_of=2025-04-29").json()["count"] == 0
    # the summary counts her (as "<5")
    summary = api.get("/api/tracker/summary?as_of=2025-06-01").json()
    la856 = next(f for f in summary["figures"] if f["area"] == "856")
    assert (la856["young_people"], la856["red"], la856["overdue_by_owner"]) == (
        "<5",
        "<5",
        {"856": "<5"},
    )


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("rag=purple", 422, "'rag': Input should be 'green', 'amber' or 'red', got 'purple'"),
        ("milestone=prom", 422, "'milestone': Input should be 'pfa_review'"),
        ("la=999", 404, "LA '999' is not in the partnership"),
        ("as_of=2025-02-30", 422, "as_of"),
    ],
)
def test_bad_tracker_queries_say_what_was_wrong(
    api: TestClient, query: str, status: int, says: str
) -> None:
    response = api.get(f"/api/tracker?{query}")
    assert response.status_code == status
    assert says in str(response.json()["detail"])
