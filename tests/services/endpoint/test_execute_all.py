"""An import request is saved in one transaction, yet every row gets the outcome it would have
had if the rows had been sent one by one: refusals, duplicates and store failures included."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from eventsourcing.persistence import OperationalError
from stories import NHS_NUMBER, as_rows, person_fields, story

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.domain.aggregates import Aggregate, DomainError
from services.domain.application import Outcome, handles
from services.domain.command import Command, NhsNumber
from services.endpoint.ingest import Ingest
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE

SECOND_CHILD = "4010232137"


def new_la(tmp_path: Path, name: str, app_type: type[LaApplication] = LaApplication) -> Any:
    settings = Settings(data_dir=tmp_path / name, store="sqlite", cipher_key=None)
    return app_type(organisation("856"), store_env(organisation("856"), settings))


def stored(app: LaApplication) -> set[tuple[Any, int, str]]:
    return {
        (n.originator_id, n.originator_version, n.topic)
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    }


def messy_request() -> list[dict[str, Any]]:
    """Two children's stories with, between them, a row the rules refuse, the same row twice and
    a record_id reused for a different row."""
    first, second = as_rows(story()), as_rows(story("856-C-2", "856-P-2", SECOND_CHILD))
    second = [{**row, "record_id": f"b-{row['record_id']}"} for row in second]
    refused = {**first[3], "record_id": "plan-for-no-case", "case_id": "856-C-9"}
    reused = {**first[2], "decision": "refuse"}
    return [*first[:2], refused, first[1], first[2], reused, first[3], *second]


def test_a_request_is_stored_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an LA whose store counts its write transactions
    app = new_la(tmp_path, "la")
    writes: list[int] = []
    insert = app.recorder.insert_events
    monkeypatch.setattr(
        app.recorder, "insert_events", lambda events, **kw: writes.append(1) or insert(events, **kw)
    )
    # when two children's stories arrive as one import request
    rows = as_rows(story()) + [
        {**row, "record_id": f"b-{row['record_id']}"}
        for row in as_rows(story("856-C-2", "856-P-2", SECOND_CHILD))
    ]
    report = Ingest(app, LA_CATALOGUE).import_rows({"rows": rows})
    app.factory.close()
    # then all eight rows are accepted, each with the one event it caused, in one transaction
    assert report["accepted"] == 8
    assert [len(r["event_ids"]) for r in report["rows"]] == [1] * 8
    assert len(writes) == 1


def test_every_row_of_a_messy_request_gets_the_outcome_it_would_get_alone(tmp_path: Path) -> None:
    # given the same messy request for two LAs with empty stores
    together, alone = new_la(tmp_path, "together"), new_la(tmp_path, "alone")
    rows = messy_request()
    # when one takes it as one request and the other row by row
    report = Ingest(together, LA_CATALOGUE).import_rows({"rows": rows})
    one_by_one = [Ingest(alone, LA_CATALOGUE).import_row(n, row) for n, row in enumerate(rows, 1)]
    # then every row has the same report either way, and the same events were stored
    assert report["rows"] == [r.to_json() for r in one_by_one]
    assert stored(together) == stored(alone)
    together.factory.close()
    alone.factory.close()
    # and the report says which rows were refused, repeated or reused, and why
    outcomes = [(r["row"], r["accepted"], r.get("duplicate")) for r in report["rows"]]
    assert outcomes[2:6] == [(3, False, None), (4, True, True), (5, True, False), (6, False, None)]
    assert report["rows"][2]["error"].startswith("row 3: ehc.plan_issued for case 856-C-9")
    assert "was already imported as a different" in report["rows"][5]["error"]


def test_record_ids_looked_up_per_request_give_the_reports_they_give_row_by_row(
    tmp_path: Path,
) -> None:
    # given the messy request split into requests of 4 rows (a record_id saved in one request
    # and reused in the next), sent twice, to one LA, and row by row to another
    together, alone = new_la(tmp_path, "together"), new_la(tmp_path, "alone")
    rows = messy_request() * 2
    ingest = Ingest(together, LA_CATALOGUE)
    reports = [
        report
        for start in range(0, len(rows), 4)
        for report in ingest.import_rows({
            "rows": rows[start:start + 4],
            "row_numbers": list(range(start + 1, min(start + 5, len(rows) + 1))),
        })["rows"]
    ]
    one_by_one = [Ingest(alone, LA_CATALOGUE).import_row(n, row) for n, row in enumerate(rows, 1)]
    # then every row has the report it has row by row, and the same events were stored
    assert reports == [r.to_json() for r in one_by_one]
    assert stored(together) == stored(alone)
    # and the second sending stored nothing new: each accepted row is a duplicate
    second = reports[len(rows) // 2:]
    assert any(r["accepted"] for r in second)
    assert all(r["duplicate"] for r in second if r["accepted"])
    together.factory.close()
    alone.factory.close()


class AssignThenRefuse(Command):
    """A command whose (badly written) handler changes a person and then refuses."""

    name = "test.assign_then_refuse"
    nhs_number: NhsNumber


class HalfWayLa(LaApplication):
    @handles(AssignThenRefuse)
    def assign_then_refuse(self, cmd: AssignThenRefuse) -> Iterable[Aggregate]:
        person = self.person(cmd.nhs_number, AssignThenRefuse.name)
        person.assign_named_worker(assigned_on=date(2025, 3, 1), worker_role="send_officer")
        raise DomainError(f"{AssignThenRefuse.name}: refused after changing the person")


def test_a_command_refused_half_way_leaves_nothing_of_itself(tmp_path: Path) -> None:
    # given a request: register a person, a command refused after changing them, a good one
    app = new_la(tmp_path, "la", HalfWayLa)
    register, request = (LA_CATALOGUE.parse(name, fields) for name, fields in story()[:2])
    commands = [
        (register, "r1"),
        (AssignThenRefuse(nhs_number=NHS_NUMBER), "r2"),
        (request, "r3"),
    ]
    # when they are executed together
    results = app.execute_all(commands)
    # then the refusal is reported, the rows around it are stored, and the person has no
    # trace of the half-done change
    assert [type(r) for r in results] == [Outcome, DomainError, Outcome]
    person = app.person(NHS_NUMBER, "check")
    assert person.named_worker_assigned_on is None and person.version == 1
    assert app.case("856-C-1", "check").person_id == person.id
    app.factory.close()


def test_a_request_the_store_will_not_save_reports_every_row_as_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an LA whose disk is full
    app = new_la(tmp_path, "la")

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(app.recorder, "insert_events", disk_full)
    # when a request registering three children arrives
    people = [person_fields(nhs) for nhs in (NHS_NUMBER, SECOND_CHILD, "9990000018")]
    rows = as_rows([("person.register", fields) for fields in people])
    report = Ingest(app, LA_CATALOGUE).import_rows({"rows": rows})
    # then each row is reported as not recorded, by its own number, and nothing was stored
    assert report["rejected"] == 3
    assert [r["error"].split(":")[0] for r in report["rows"]] == ["row 1", "row 2", "row 3"]
    assert all("could not write to its store" in r["error"] for r in report["rows"])
    monkeypatch.undo()
    assert app.recorder.max_notification_id() is None
    app.factory.close()


def test_a_request_saved_after_a_conflict_is_redone_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an LA whose first attempt to save a request fails (another writer got there first)
    app = new_la(tmp_path, "la")
    insert, attempts = app.recorder.insert_events, []

    def conflict_once(events: Any, **kwargs: Any) -> Any:
        attempts.append(len(events))
        if len(attempts) == 1:
            raise OperationalError("database is locked")
        return insert(events, **kwargs)

    monkeypatch.setattr(app.recorder, "insert_events", conflict_once)
    # when a story arrives as one request
    report = Ingest(app, LA_CATALOGUE).import_rows({"rows": as_rows(story())})
    # then every row is still accepted, saved one by one after the failed attempt
    assert report["accepted"] == 4 and report["rejected"] == 0
    assert len(attempts) == 1 + 4
    app.factory.close()


@pytest.mark.integration
def test_record_ids_are_looked_up_in_one_query_on_postgresql_too(
    tmp_path: Path, postgres_dsn: str, postgres_schema: str
) -> None:
    # given an LA on PostgreSQL that took the messy request once
    url = urlsplit(postgres_dsn)
    postgres = {
        "POSTGRES_DBNAME": url.path.lstrip("/"), "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_USER": url.username or "",
        "POSTGRES_PASSWORD": url.password or "", "POSTGRES_SCHEMA": postgres_schema,
    }
    org = organisation("856")
    settings = Settings(data_dir=tmp_path, store="postgres", cipher_key=None)
    app = LaApplication(org, {**store_env(org, settings), **postgres})
    try:
        ingest = Ingest(app, LA_CATALOGUE)
        first = ingest.import_rows({"rows": messy_request()})
        before = stored(app)
        # when the same request is sent again
        again = ingest.import_rows({"rows": messy_request()})
        # then nothing new is stored and every row accepted the first time is a duplicate
        assert stored(app) == before
        assert again["accepted"] == first["accepted"] == again["duplicates"] > 0
    finally:
        app.factory.close()
