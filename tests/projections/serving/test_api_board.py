"""What a partnership board reads from the API: figures as of the latest data date, every list
as CSV with the same suppression, the tracker most urgent first and a page at a time. Read as
the roles that use them: the wall dashboard (aggregates) and an LA's own client (its people)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.serving.api import create_app

TODAY = date(2025, 9, 20)
"""Well after the data ends (31 May 2025): a default of today would show empty months."""
DASHBOARD = {"Authorization": "Bearer token-of-wallboard"}
LEICESTER = {"Authorization": "Bearer token-of-leicester"}


@pytest.fixture
def api(store, tracker_store, record, events, tmp_path: Path) -> TestClient:
    # given LA 856 issued amira's and ben's plans in 2020 (both born April 2011, 14 on 30 April
    # 2025, no named worker: red from then); cara (born May 2010, autism) had her named worker
    # in 2024 and her transition plan due 31 May 2025; the last thing that happened was on
    # 31 May 2025 (advice asked for ella)
    record(
        events.registered("amira", "2011-04"),
        events.plan_issued("amira", date(2020, 3, 2)),
        events.registered("ben", "2011-04"),
        events.plan_issued("ben", date(2020, 3, 2), case="C2", plan="P2"),
        events.registered("cara", "2010-05"),
        events.diagnosis("cara", date(2018, 1, 1)),
        events.named_worker("cara", date(2024, 5, 1)),
        events.advice_requested("ella", date(2025, 5, 31), ref="A9"),
    )
    registry = TokenRegistry([
        TokenEntry(name="wallboard", sha256=hash_token("token-of-wallboard"), role="dashboard"),
        TokenEntry(name="leicester", sha256=hash_token("token-of-leicester"), role="partner",
                   org="856"),
    ])
    log = AccessLog(tmp_path / "access-log.sqlite")
    control = AccessControl(registry, log, store)
    yield TestClient(create_app(store, tracker=tracker_store, access=control,
                                today=lambda: TODAY))
    log.close()


def test_without_a_date_figures_are_as_of_the_latest_data_date(api: TestClient) -> None:
    assert api.get("/api/data-date", headers=DASHBOARD).json() == {
        "latest_data_date": "2025-05-31", "today": "2025-09-20", "default_as_of": "2025-05-31",
    }
    figures = api.get("/api/indicators/active-plans", headers=DASHBOARD).json()["figures"]
    months = sorted({f["month"] for f in figures})
    assert (months[0], months[-1]) == ("2024-06", "2025-05")
    assert api.get("/api/tracker/summary", headers=DASHBOARD).json()["as_of"] == "2025-05-31"


def test_every_list_downloads_as_csv_with_the_cells_shown_on_screen(api: TestClient) -> None:
    query = "/api/indicators/active-plans?from=2025-05&to=2025-05"
    shown = api.get(query, headers=DASHBOARD).json()["figures"]
    by_header = api.get(query, headers={**DASHBOARD, "Accept": "text/csv"})
    by_link = api.get(f"{query}&format=csv", headers=DASHBOARD)
    assert by_header.headers["content-type"].startswith("text/csv")
    assert 'filename="indicators-active-plans.csv"' in by_link.headers["content-disposition"]
    assert by_header.text == by_link.text
    rows = list(csv.DictReader(io.StringIO(by_link.text)))
    # one row per figure; the two plans of 856 are "<5" in the CSV as on screen
    assert [r["area"] for r in rows] == [f["area"] for f in shown]
    la856 = next(r for r in rows if r["area"] == "856")
    assert la856["la_count"] == "<5" == next(f for f in shown if f["area"] == "856")["la_count"]


def test_a_csv_request_that_fails_says_why_as_json(api: TestClient) -> None:
    answer = api.get("/api/indicators/active-plans?la=999&format=csv", headers=DASHBOARD)
    assert answer.status_code == 404
    assert "LA '999' is not in the partnership" in answer.json()["detail"]
    refused = api.get("/api/tracker?format=csv", headers=DASHBOARD)
    assert refused.status_code == 403


def test_the_tracker_lists_the_most_overdue_first_a_page_at_a_time(
    api: TestClient, events
) -> None:
    # as of 1 June 2025: amira and ben are 32 days overdue (named worker due 30 April), cara
    # 1 day (transition plan due 31 May): amira and ben first (by key), then cara
    first = api.get("/api/tracker?as_of=2025-06-01&page_size=2", headers=LEICESTER).json()
    overdue = sorted([events.person("amira"), events.person("ben")])
    assert (first["count"], first["page"], first["pages"]) == (3, 1, 2)
    assert [p["person_key"] for p in first["people"]] == overdue
    second = api.get("/api/tracker?as_of=2025-06-01&page_size=2&page=2",
                     headers=LEICESTER).json()
    assert [p["person_key"] for p in second["people"]] == [events.person("cara")]
    # the CSV of a page has a row per milestone of each person on it
    rows = list(csv.DictReader(io.StringIO(api.get(
        "/api/tracker?as_of=2025-06-01&page_size=2&page=2&format=csv", headers=LEICESTER
    ).text)))
    assert {r["person_key"] for r in rows} == {events.person("cara")}
    assert {r["milestones.milestone"] for r in rows} >= {"named_worker", "transition_plan"}


def test_a_page_out_of_range_is_refused_naming_the_limit(api: TestClient) -> None:
    answer = api.get("/api/tracker?page_size=0", headers=LEICESTER)
    assert answer.status_code == 422
    assert "page_size" in answer.json()["detail"]
