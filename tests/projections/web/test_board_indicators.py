"""The health and disagreement indicators (8-12) as a wall dashboard reads them: served by the
API with their definitions, and shown as tiles on the dashboard page (dashboard role)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts.disagreement import MediationHeld
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.serving.api import create_app

NEW_TILES = ("annual-health-checks", "dynamic-support-register", "ld-register-match",
             "mediation-and-appeals", "complaints")
WALLBOARD = {"Authorization": "Bearer t-wallboard"}


@pytest.fixture
def client(store, record, events, tmp_path: Path) -> TestClient:
    # given ten adults on Leicester's LD register, five checked in May 2025, and five
    # mediations held in May about Leicester's cases
    for number in range(10):
        name = f"adult{number}"
        record(events.registered(name, "1999-02"),
               events.diagnosis(name, date(2018, 5, 1), "learning_disability"))
        if number < 5:
            record(events.health_check(name, date(2025, 5, 12)))
            held = date(2025, 5, 20)
            record(events.wrap(MediationHeld(case_id=f"C{number}", held_on=held, stage="plan",
                                             agreement_reached=True), name, "856", held))
    registry = TokenRegistry([TokenEntry(name="wallboard", sha256=hash_token("t-wallboard"),
                                         role="dashboard", org=None)])
    app = create_app(store, access=AccessControl(registry, AccessLog(tmp_path / "log.sqlite"),
                                                 store),
                     today=lambda: date(2025, 6, 15))
    return TestClient(app)


def test_the_api_serves_health_check_uptake_with_its_definition_and_target(
    client: TestClient,
) -> None:
    body = client.get("/api/indicators/annual-health-checks?from=2025-05&to=2025-05",
                      headers=WALLBOARD).json()
    assert "aged 14 or over" in body["indicator"]["definition"]
    (partnership,) = [f for f in body["figures"] if f["area"] == "partnership"]
    assert (partnership["eligible"], partnership["checked"], partnership["percent_checked"]
            ) == (10, 5, 50.0)
    # the target comes from the partnership's targets file, with its source and a RAG
    (check,) = [c for c in body["targets"]
                if (c["area"], c["period"]) == ("partnership", "month")]
    assert (check["target"], check["value"], check["rag"]) == (75.0, 50.0, "red")
    assert "Northamptonshire" in check["source"]


def test_every_new_indicator_is_listed_and_served_to_a_dashboard(client: TestClient) -> None:
    listed = {i["id"] for i in client.get("/api/indicators", headers=WALLBOARD).json()}
    assert set(NEW_TILES) <= listed
    for indicator in NEW_TILES:
        answer = client.get(f"/api/indicators/{indicator}?from=2025-05&to=2025-05",
                            headers=WALLBOARD)
        assert answer.status_code == 200, indicator
        assert {f["area"] for f in answer.json()["figures"]} >= {"856", "partnership"}


def test_the_dashboard_shows_a_tile_for_each_with_its_headline(client: TestClient) -> None:
    signed = client.post("/login", data={"token": "t-wallboard"}, follow_redirects=False)
    assert signed.status_code == 303
    page = client.get("/?as_of=2025-05-31").text
    tiles = {i: re.search(rf'<article class="tile" id="tile-{i}".*?</article>', page, re.S)
             for i in NEW_TILES}
    assert all(tiles.values()), [i for i, tile in tiles.items() if tile is None]
    uptake = tiles["annual-health-checks"].group(0)
    assert 'data-testid="headline-Checked in 12 months">50.0%<' in uptake
    assert re.search(r'data-testid="target-annual-health-checks">.*?Red: short of target.*?'
                     r'Target 75.0% from 2022-03', uptake, re.S)
    assert 'data-testid="headline-Mediations">5<' in tiles["mediation-and-appeals"].group(0)
    # and where England publishes nothing to compare with, the tile says so and why
    assert re.search(r'data-testid="no-england-annual-health-checks">No England comparator: '
                     r'the target \(75%, seed 001\) is an ambition', uptake)
