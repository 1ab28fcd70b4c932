"""Partner extracts: every row gets a report naming the row and field; re-imports change nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from stories import as_rows, person_fields, story

from contracts.topology import OrgKind
from sendx.demo.extracts import columns_for, write_extract
from services.endpoint.ingest import Ingest, read_extract
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE


@pytest.fixture
def ingest(la_app: LaApplication) -> Ingest:
    return Ingest(la_app, LA_CATALOGUE)


def errors(report: dict) -> dict[int, str]:
    return {r["row"]: r["error"] for r in report["rows"] if not r["accepted"]}


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (
            {"record_id": "x", "command": "person.register", **person_fields("9434765918")},
            "row 1, field nhs_number: NHS number fails the modulus-11 check digit",
        ),
        (
            {"record_id": "x", "command": "ehc.make_plan"},
            "row 1, field command: unknown command 'ehc.make_plan'; known: person.register,",
        ),
        (
            {"command": "person.register", **person_fields()},
            "row 1, field record_id: required (your own id for this row",
        ),
        ({"record_id": "x", **person_fields()}, "row 1, field command: required"),
        (
            {"record_id": "x", "command": "person.register", **person_fields(), "colour": "blue"},
            "row 1, field colour: not a field of person.register",
        ),
        (
            {"record_id": "x", "command": "person.register", **person_fields(born_on="17/04/2011")},
            "row 1, field born_on: expected a date as YYYY-MM-DD (e.g. 2026-01-05 for 5 "
            "January 2026), got '17/04/2011'",
        ),
        (
            {
                "record_id": "x",
                "command": "ehc.decide_assessment",
                "case_id": "856-C-1",
                "decided_on": "2025-02-10",
            },
            "row 1, field decision: required by ehc.decide_assessment",
        ),
        (
            {
                "record_id": "x",
                "command": "ehc.issue_plan",
                "case_id": "856-C-9",
                "plan_id": "P",
                "issued_on": "2025-05-19",
                "primary_need": "ASD",
                "placement": "mainstream",
            },
            "row 1: ehc.plan_issued for case 856-C-9: no assessment request recorded by LA 856",
        ),
    ],
)
def test_a_malformed_row_is_rejected_naming_the_row_and_field(
    ingest: Ingest, row: dict, error: str
) -> None:
    report = ingest.import_rows({"rows": [row]})
    assert report["ok"] and report["rejected"] == 1
    assert errors(report)[1].startswith(error)


def test_rows_are_numbered_as_in_the_extract_and_good_rows_still_import(ingest: Ingest) -> None:
    # given an extract whose 7th row has a bad NHS number
    rows = as_rows(story())
    bad = {
        "record_id": "bad",
        "command": "transition.assign_named_worker",
        "nhs_number": "9434765918",
        "assigned_on": "2025-03-01",
        "worker_role": "send_officer",
    }
    # when rows 3-6 and 7 are sent
    report = ingest.import_rows({"rows": [*rows, bad], "row_numbers": [3, 4, 5, 6, 7]})
    # then the good rows are accepted with their event ids and row 7 is named
    assert [r["accepted"] for r in report["rows"]] == [True, True, True, True, False]
    assert all(len(r["event_ids"]) == 1 for r in report["rows"][:4])
    assert errors(report) == {
        7: "row 7, field nhs_number: NHS number fails the modulus-11 check digit"
    }


def test_reimporting_the_same_extract_reports_duplicates_and_stores_nothing(
    ingest: Ingest, la_app: LaApplication
) -> None:
    rows = as_rows(story())
    first = ingest.import_rows({"rows": rows})
    stored = la_app.recorder.max_notification_id()
    again = ingest.import_rows({"rows": rows})
    assert again["duplicates"] == 4 and again["rejected"] == 0
    assert [r["event_ids"] for r in again["rows"]] == [r["event_ids"] for r in first["rows"]]
    assert la_app.recorder.max_notification_id() == stored


def test_a_command_may_be_named_by_the_event_type_it_produces(ingest: Ingest) -> None:
    report = ingest.import_rows(
        {"rows": [{"record_id": "1", "command": "person.registered", **person_fields()}]}
    )
    assert report["accepted"] == 1


def test_single_command_replies_ok_or_the_reason(ingest: Ingest) -> None:
    assert ingest.command("person.register", person_fields())["ok"] is True
    refused = ingest.command(
        "ehc.decide_assessment",
        {"case_id": "856-C-1", "decided_on": "2025-02-10", "decision": "maybe"},
    )
    assert refused == {"ok": False, "error": "field decision: Input should be 'assess' or 'refuse'"}


def test_csv_extract_with_one_header_for_all_commands_imports(
    ingest: Ingest, tmp_path: Path
) -> None:
    # given a CSV written with every LA column, most cells empty
    path = write_extract(as_rows(story()), tmp_path / "extract.csv", columns_for(OrgKind.LA))
    # when read and imported
    rows = list(read_extract(path))
    report = ingest.import_rows({"rows": [r for _, r in rows], "row_numbers": [n for n, _ in rows]})
    # then every row is accepted: empty cells count as absent
    assert report["accepted"] == 4, report


def test_jsonl_lines_that_are_not_json_are_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "extract.jsonl"
    path.write_bytes(orjson.dumps(as_rows(story())[0]) + b"\n\n{not json\n")
    rows = list(read_extract(path))
    assert rows[0][0] == 1 and isinstance(rows[0][1], dict)
    assert rows[1][0] == 3 and rows[1][1].startswith("row 3: not valid JSON")


def test_a_date_of_birth_the_shared_birth_month_cannot_carry_is_refused_at_the_door() -> None:
    # given a registration row born in the year 9999 (a typo in the partner's extract)
    # when it is parsed, then it is refused naming the field, before anything is stored
    with pytest.raises(Exception) as caught:
        LA_CATALOGUE.parse(
            "person.register",
            {
                "nhs_number": "9434765919", "given_name": "A", "family_name": "B",
                "born_on": "9999-12-31",
            },
        )
    assert "born_on" in str(caught.value) and "between 1900-01-01 and today" in str(caught.value)
