"""Go-live from the partner's seat: LA 856 brings its caseload with `sendx import` logged in as
its partner system (`la-856-client`), the dataset projector reads the stream as `projector`,
and the LA reads its figures from the API with its own token."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.topology import OrgKind
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import Role, TokenEntry, TokenRegistry, hash_token
from projections.catalogue import projection_named
from projections.dataset.areas import Partnership
from projections.dataset.store import SqliteDatasetStore
from projections.reading.consumer import ConsumerSettings
from projections.reading.runner import ProjectionRunner
from projections.serving.api import create_app
from projections.tracker.queries import tracker_rows
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for
from runtime.bus.streams import EVENTS_STREAM
from sendx.cli import main
from sendx.demo.extracts import columns_for, write_extract
from tests.services.test_cli import Secured, la_service, secured  # noqa: F401 (fixtures)
from tests.waiting import eventually

pytestmark = pytest.mark.integration

LA_TOKEN = "token-of-leicester"
NHS_NUMBERS = ("9434765919", "9434765870", "9434765889", "9434765897", "9434765900",
               "9434765927")


def go_live_extract() -> list[dict[str, str]]:
    """Six children whose plans were issued in March 2024, from the LA's existing system; the
    first also has the request date on record (day 133: within 20 weeks)."""
    rows: list[dict[str, str]] = []
    for n, nhs in enumerate(NHS_NUMBERS, start=1):
        rows.append({"record_id": f"P{n}", "command": "person.register", "nhs_number": nhs,
                     "given_name": "Sam", "family_name": "Okafor", "born_on": "2014-02-03"})
        rows.append({
            "record_id": f"G{n}", "command": "ehc.record_plan_in_force", "nhs_number": nhs,
            "case_id": f"856-C-{n}", "plan_id": f"856-P-{n}", "issued_on": "2024-03-18",
            "primary_need": "ASD", "placement": "mainstream", "last_reviewed_on": "2025-03-10",
            "migrated_from": "capita-one",
            **({"requested_on": "2023-11-06"} if n == 1 else {}),
        })
    return rows


async def project(bus: Secured, db_path: Path, events: int = 12) -> SqliteDatasetStore:
    """The dataset projector, as the `projector` user, until it has applied the whole stream."""
    nc = await connect_bus(
        bus.url, name="test-projector", **credentials_for("projector", bus.data_dir)
    )
    store = SqliteDatasetStore(db_path)
    fast = ConsumerSettings(batch_size=50, fetch_timeout=0.2, retry_delay=0.2)
    runner = ProjectionRunner(nc, "dataset", store, fast)
    task = asyncio.create_task(runner.run())
    try:
        js = nc.jetstream()

        async def caught_up() -> bool:
            last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
            return last >= events and runner.position >= last

        await eventually(caught_up, 20, what="the dataset projector caught up")
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await nc.close()
    return store


def as_the_la(store: SqliteDatasetStore, tmp_path: Path, *paths: str) -> list[Any]:
    """The API's answers to `paths` with the LA's partner token (the store is closed after)."""
    tokens = TokenRegistry([TokenEntry(name="Leicester", sha256=hash_token(LA_TOKEN),
                                       role=Role.PARTNER, org="856")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    try:
        api = TestClient(create_app(store, access=AccessControl(tokens, log, store)))
        auth = {"Authorization": f"Bearer {LA_TOKEN}"}
        return [api.get(path, headers=auth) for path in paths]
    finally:
        log.close()
        store.close()


def test_a_caseload_imported_at_go_live_is_active_on_day_one_and_never_new(
    la_service, secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    # given the LA's go-live extract, imported as its partner system
    path = write_extract(go_live_extract(), tmp_path / "go-live.csv", columns_for(OrgKind.LA))
    assert main(["import", "--org", "856", str(path)]) == 0
    assert "12 rows: 12 accepted (0 already imported), 0 rejected" in capsys.readouterr().out
    # when the dataset projector has read the stream
    store = asyncio.run(project(secured, tmp_path / "dataset.sqlite"))
    plans, issued = as_the_la(
        store, tmp_path,
        "/api/indicators/active-plans?la=856&from=2024-02&to=2024-03",
        "/api/indicators/twenty-week-timeliness?la=856&from=2024-03&to=2024-03",
    )
    # then the six plans are active from March 2024 (none before), all LA-only
    assert plans.status_code == 200, plans.text
    assert [(f["month"], f["la_count"], f["la_only"]) for f in plans.json()["figures"]] == [
        ("2024-02", 0, 0),
        ("2024-03", 6, 6),
    ]
    # and of them only the plan whose request is on record counts as a new plan issued
    assert issued.status_code == 200, issued.text
    (march,) = issued.json()["figures"]
    assert (march["issued"], march["no_request_recorded"]) == ("<5", 0)


def test_assessments_open_at_go_live_carry_on_live_and_their_plans_are_judged_on_time(
    la_service, secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    # given six assessments the LA's system holds at go-live, being assessed since a decision of
    # 12 February 2024 on requests of 8 January; then, live, each plan issued on 20 May 2024
    # (day 133: within 20 weeks); and two careless rows
    rows: list[dict[str, str]] = []
    for n, nhs in enumerate(NHS_NUMBERS, start=1):
        rows += [
            {"record_id": f"P{n}", "command": "person.register", "nhs_number": nhs,
             "given_name": "Sam", "family_name": "Okafor", "born_on": "2014-02-03"},
            {"record_id": f"A{n}", "command": "ehc.record_assessment_at_step", "nhs_number": nhs,
             "case_id": f"856-C-{n}", "requested_on": "2024-01-08", "step": "assessing",
             "decided_on": "2024-02-12", "migrated_from": "capita-one"},
            {"record_id": f"I{n}", "command": "ehc.issue_plan", "case_id": f"856-C-{n}",
             "plan_id": f"856-P-{n}", "issued_on": "2024-05-20", "primary_need": "ASD",
             "placement": "mainstream"},
        ]
    rows += [
        {"record_id": "X1", "command": "ehc.record_assessment_at_step",
         "nhs_number": NHS_NUMBERS[0], "case_id": "856-C-9", "requested_on": "2024-01-08",
         "step": "assessing", "migrated_from": "capita-one"},
        {"record_id": "X2", "command": "ehc.record_assessment_at_step",
         "nhs_number": NHS_NUMBERS[0], "case_id": "856-C-1", "requested_on": "2024-01-08",
         "step": "awaiting_decision", "migrated_from": "capita-one"},
    ]
    path = write_extract(rows, tmp_path / "go-live.csv", columns_for(OrgKind.LA))
    # when it is imported as the LA's partner system
    main(["import", "--org", "856", str(path)])
    out = capsys.readouterr().out
    # then the careless rows are refused, each saying what was wrong, and the rest accepted
    assert "20 rows: 18 accepted (0 already imported), 2 rejected" in out
    assert "decided_on is required for step assessing" in out
    assert "case 856-C-1: this case is already recorded" in out
    # and the plans issued live count as new plans, judged from the go-live request date
    store = asyncio.run(project(secured, tmp_path / "dataset.sqlite", events=18))
    issued, decided = as_the_la(
        store, tmp_path,
        "/api/indicators/twenty-week-timeliness?la=856&from=2024-05&to=2024-05",
        "/api/indicators/decision-timeliness?la=856&from=2024-02&to=2024-02",
    )
    assert issued.status_code == 200, issued.text
    (may,) = issued.json()["figures"]
    assert (may["issued"], may["counted"], may["within_twenty_weeks"]) == (6, 6, 6)
    # and the decisions the LA held count in February, 5 weeks after the request: within
    (february,) = decided.json()["figures"]
    assert (february["decided"], february["within_six_weeks"]) == (6, 6)


def test_an_occurred_replay_before_the_go_live_keeps_the_people_registered_at_it(
    la_service, secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    # given a young person (born June 2010) registered today, with a plan in force since 2019
    rows = go_live_extract()[:2]
    rows[0]["born_on"] = "2010-06-15"
    path = write_extract(rows, tmp_path / "go-live.csv", columns_for(OrgKind.LA))
    assert main(["import", "--org", "856", "--quiet", str(path)]) == 0
    asyncio.run(project(secured, tmp_path / "dataset.sqlite", events=2)).close()
    # when the auditor replays the tracker as the world was on 23 November 2025
    out = tmp_path / "tracker-2025-11-23.sqlite"
    assert main(["audit", "replay", "--as-of", "2025-11-23T00:00:00+00:00", "--by", "occurred",
                 "--projection", "tracker", "--out", str(out)]) == 0
    # then the person is in the tracker as of that day, with their birth month and LA
    store = projection_named("tracker").open_store(out)
    try:
        rows_then = tracker_rows(store, date(2025, 11, 23), Partnership.of())
    finally:
        store.close()
    assert [(p.la, p.birth_month, p.age) for p in rows_then.people] == [("856", "2010-06", 15)]
