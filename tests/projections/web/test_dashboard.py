"""The dashboard page: sign-in, what each role sees, accessible charts, local assets only."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.dataset.areas import Partnership
from projections.serving.api import create_app
from projections.web.charts import Series, figure_table, trend_chart

TOKENS = {"leicester": ("partner", "856"), "auditor": ("auditor", None),
          "wallboard": ("dashboard", None)}


@pytest.fixture
def client(store, record, events, tmp_path: Path) -> TestClient:
    # given Leicester issued plans for six children in May 2025, and health flagged them too
    for number in range(6):
        name = f"child-{number}"
        record(events.assessment_requested(name, date(2025, 1, 6), case=f"C{number}"),
               events.plan_issued(name, date(2025, 5, 20), case=f"C{number}", plan=f"P{number}"))
        record(events.health_flag_set(name, date(2025, 5, 25)))
    registry = TokenRegistry([
        TokenEntry(name=name, sha256=hash_token(f"t-{name}"), role=role, org=org)
        for name, (role, org) in TOKENS.items()
    ])
    log = AccessLog(tmp_path / "log.sqlite")
    app = create_app(store, access=AccessControl(registry, log, store),
                     today=lambda: date(2025, 6, 15))
    return TestClient(app)


def signed_in(client: TestClient, who: str) -> TestClient:
    response = client.post("/login", data={"token": f"t-{who}"}, follow_redirects=False)
    assert response.status_code == 303
    return client


def test_without_a_token_the_dashboard_asks_to_sign_in(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<label for="token">Access token</label>' in page.text


def test_a_wrong_token_is_refused_with_a_message(client: TestClient) -> None:
    page = client.post("/login", data={"token": "nope"})
    assert page.status_code == 401
    assert 'role="alert">That access token is not recognised.' in page.text


def test_signing_in_sets_an_http_only_strict_cookie(client: TestClient) -> None:
    response = client.post("/login", data={"token": "t-auditor"}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.post("/logout", follow_redirects=False).status_code == 303


def test_the_dashboard_shows_tiles_with_charts_tables_and_definitions(client: TestClient) -> None:
    page = signed_in(client, "auditor").get("/?as_of=2025-06-30").text
    # then indicator 1's tile shows June's LA and health counts as headlines
    tile = re.search(r'<article class="tile" id="tile-active-plans".*?</article>', page, re.S)
    assert tile is not None
    assert re.search(r'data-testid="headline-LA count">6<', tile.group(0))
    assert re.search(r'data-testid="headline-Health count">6<', tile.group(0))
    # and the chart has a title and a description stating the latest values, and a table
    assert '<title id="chart-active-plans-t">' in tile.group(0)
    assert "Latest month: LA count: 6; Health count: 6." in tile.group(0)
    assert "<caption>Active EHC plans according to the LA and according to health, by month" in (
        tile.group(0))
    assert "Definition</summary><p>For each local authority and month" in tile.group(0)
    # and the discrepancy view and the tracker section are there, explained when unavailable
    assert 'data-testid="discrepancy"' in page
    assert "Not available: this API does not serve it yet." in page
    assert 'value="2025-06-30"' in page


def test_every_asset_is_served_locally(client: TestClient) -> None:
    page = signed_in(client, "auditor").get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/dashboard.css").status_code == 200


def test_a_dashboard_token_sees_the_aggregates_but_is_told_why_no_people(client: TestClient,
                                                                        ) -> None:
    page = signed_in(client, "wallboard").get("/").text
    assert 'data-testid="headline-LA count">6<' in page
    assert ("Not shown to you: the dashboard token 'wallboard' may read partnership "
            "aggregates only") in unescape(page)


def test_a_bad_as_of_date_is_a_422_naming_the_format(client: TestClient) -> None:
    response = signed_in(client, "auditor").get("/?as_of=30/06/2025")
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.json()["detail"]


def test_a_suppressed_or_missing_month_is_a_gap_in_the_line_and_named_in_the_table() -> None:
    months = ["2025-04", "2025-05", "2025-06"]
    series = [Series("LA count", [7, "<5", 9])]
    chart = trend_chart("c", "Active plans", months, series)
    # then two separate runs are drawn (no line through the hidden month)
    assert chart.count("<polyline") == 2
    assert 'role="img"' in chart and "Latest month: LA count: 9." in chart
    assert "<td>&lt;5</td>" in figure_table("Active plans", months, series)


HOSTILE = '"><script>alert(1)</script>'
ESCAPED = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def test_a_hostile_name_or_query_parameter_is_shown_as_text_never_run(store, record, events,
                                                                      tmp_path: Path) -> None:
    # given a partnership and an LA whose names hold markup, and a partner signed in
    record(events.plan_issued("child-0", date(2025, 5, 20)))
    registry = TokenRegistry([TokenEntry(name="leicester", sha256=hash_token("t-leicester"),
                                         role="partner", org="856")])
    app = create_app(store, partnership=Partnership(f"Shire{HOSTILE}", {"856": f"City{HOSTILE}"}),
                     access=AccessControl(registry, AccessLog(tmp_path / "log.sqlite"), store),
                     today=lambda: date(2025, 6, 15))
    client = signed_in(TestClient(app), "leicester")
    # when they open the dashboard with the hostile value in a tracker filter too
    page = client.get("/", params={"la": "856", "owner": HOSTILE}).text
    # then no script element is in the page: each value is there, escaped, as the user typed it
    assert "<script>alert" not in page
    assert f"<h1>Shire{ESCAPED}: SEND partnership dashboard</h1>" in page
    assert f">City{ESCAPED} (856)</option>" in page
    assert f'name="owner" value="{ESCAPED}"' in page
    # and the sign-in page escapes too
    refused = TestClient(app).post("/login", data={"token": HOSTILE})
    assert refused.status_code == 401 and "<script>alert" not in refused.text
