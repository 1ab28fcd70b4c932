"""The demo partnership is deterministic, realistic and imports cleanly."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from contracts.topology import OrgKind
from sendx.demo.children import DEMO_TODAY, children
from sendx.demo.extracts import extract, la_rows, write_extracts
from services.domain.identity import validate_nhs_number
from services.endpoint.ingest import Ingest, read_extract
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE


def test_the_same_seed_gives_the_same_children_and_rows() -> None:
    assert children(50) == children(50)
    assert extract("856", children(50)) == extract("856", children(50))


def test_every_child_has_a_valid_unique_test_range_nhs_number() -> None:
    kids = children()
    assert len({k.nhs_number for k in kids}) == len(kids) == 300
    assert all(validate_nhs_number(k.nhs_number).startswith("999") for k in kids)


def test_histories_cover_the_cases_the_dashboards_need() -> None:
    kids = children()
    rows = [row for kid in kids for row in la_rows(kid)]
    commands = Counter(r["command"] for r in rows)
    decisions = Counter(r["decision"] for r in rows if r["command"] == "ehc.decide_assessment")
    issued = [r for r in rows if r["command"] == "ehc.issue_plan"]
    requested = {
        r["case_id"]: r["requested_on"] for r in rows if r["command"] == "ehc.request_assessment"
    }
    late = [r for r in issued if (r["issued_on"] - requested[r["case_id"]]).days > 140]
    assert decisions["refuse"] > 10 and commands["ehc.decide_not_to_issue"] > 5
    assert 0.3 < len(late) / len(issued) < 0.7
    assert sum(1 for r in issued if r["exception"]) > 5
    assert commands["ehc.amend_plan"] > 50 and commands["ehc.cease_plan"] > 5
    assert commands["transition.assign_named_worker"] > 20
    assert sum(1 for k in kids if 14 <= k.age_on(DEMO_TODAY) <= 25) > 50
    assert all(isinstance(r.get("held_on", date.min), date) for r in rows)


def test_every_demo_row_is_accepted_by_the_la_service(la_app: LaApplication) -> None:
    rows = extract("856", children(60))
    report = Ingest(la_app, LA_CATALOGUE).import_rows({"rows": rows})
    assert report["rejected"] == 0, [r for r in report["rows"] if not r["accepted"]][:3]


def test_a_second_demo_load_over_the_same_data_imports_nothing_twice(
    la_app: LaApplication, tmp_path: Path
) -> None:
    # given the demo extract of LA 856 imported once, as `sendx run --demo` does
    ingest = Ingest(la_app, LA_CATALOGUE)
    path = write_extracts(tmp_path / "demo", count=40, kinds=(OrgKind.LA,))["856"]
    rows = [row for _, row in read_extract(path)]
    first = ingest.import_rows({"rows": rows})
    assert first["rejected"] == 0 and first["duplicates"] == 0
    stored = la_app.recorder.max_notification_id()
    # when the next run over the same data directory writes and imports it again
    again = write_extracts(tmp_path / "demo", count=40, kinds=(OrgKind.LA,))["856"]
    second = ingest.import_rows({"rows": [row for _, row in read_extract(again)]})
    # then every row is recognised by its record id and no event is stored twice
    assert second["accepted"] == second["duplicates"] == len(rows)
    assert la_app.recorder.max_notification_id() == stored


def test_disagreement_follows_the_law_and_happens_at_realistic_rates() -> None:
    rows = [row for kid in children() for row in la_rows(kid)]
    commands = Counter(r["command"] for r in rows)
    decisions = commands["ehc.decide_assessment"] + commands["ehc.issue_plan"]
    # mediation advice after a few in a hundred decisions, mediation held for fewer, appeals
    # fewer still: the order of SEN2's and the tribunal's national figures
    sought, held = commands["disagreement.seek_mediation_advice"], commands[
        "disagreement.hold_mediation"]
    appealed = commands["disagreement.register_appeal"]
    assert 0.02 < sought / decisions < 0.15 and 0 < held < sought and 0 < appealed < sought
    assert 0 < commands["disagreement.decide_appeal"] <= appealed
    assert 0 < commands["disagreement.resolve_complaint"] <= commands[
        "disagreement.receive_complaint"]
    # and every appeal follows mediation advice about the same case (CFA 2014 s.55)
    advised = {r["case_id"]: r["sought_on"] for r in rows
               if r["command"] == "disagreement.seek_mediation_advice"}
    for appeal in (r for r in rows if r["command"] == "disagreement.register_appeal"):
        assert advised[appeal["case_id"]] < appeal["registered_on"], appeal
