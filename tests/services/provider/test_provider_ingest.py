"""Provider extracts: rows named on error, re-imports idempotent, shared events pseudonymous."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from stories import NHS_NUMBER, PARTNERSHIP_KEY, as_rows, person_fields

from contracts.topology import OrgKind
from sendx.demo.extracts import columns_for, write_extract
from services.domain.identity import person_key
from services.endpoint.ingest import Ingest, read_extract
from services.provider.application import ProviderApplication
from services.provider.translation import ProviderContract
from services.sharing.relay import Stamp


def placement() -> list[tuple[str, dict]]:
    return [
        ("person.register", person_fields()),
        (
            "ap.placement_started",
            {
                "nhs_number": NHS_NUMBER,
                "placement_id": "AP001-P-1",
                "started_on": "2025-01-20",
                "tier": 2,
                "part_time": True,
                "reason": "exclusion",
                "commissioned_by": "856",
            },
        ),
        (
            "ap.placement_ended",
            {"placement_id": "AP001-P-1", "ended_on": "2025-04-04", "outcome": "reintegrated"},
        ),
    ]


def test_an_invalid_nhs_number_is_rejected_naming_the_row_and_field(provider: Ingest) -> None:
    bad = {"record_id": "x", "command": "person.register", **person_fields("123 456 789")}
    report = provider.import_rows({"rows": [bad], "row_numbers": [12]})
    assert report["rows"][0]["error"] == (
        "row 12, field nhs_number: NHS number must be 10 digits, got 9 characters"
    )


def test_reimporting_a_jsonl_extract_is_idempotent(
    provider: Ingest, provider_app: ProviderApplication, tmp_path: Path
) -> None:
    path = write_extract(as_rows(placement()), tmp_path / "ap.jsonl", columns_for(OrgKind.PROVIDER))
    numbered = list(read_extract(path))
    body = {"rows": [r for _, r in numbered], "row_numbers": [n for n, _ in numbered]}
    first = provider.import_rows(body)
    stored = provider_app.recorder.max_notification_id()
    again = provider.import_rows(body)
    assert first["accepted"] == 3 and (again["duplicates"], again["rejected"]) == (3, 0)
    assert [r["event_ids"] for r in again["rows"]] == [r["event_ids"] for r in first["rows"]]
    assert provider_app.recorder.max_notification_id() == stored


def test_only_placement_events_are_shared_and_the_index_stays_home(
    provider: Ingest, provider_app: ProviderApplication
) -> None:
    replies = [provider.command(name, fields) for name, fields in placement()]
    translate = ProviderContract(provider_app, PARTNERSHIP_KEY)
    envelopes = [
        translate(
            provider_app.mapper.to_domain_event(n), Stamp(uuid4(), "AP001", n.id, datetime.now(UTC))
        )
        for n in provider_app.recorder.select_notifications(start=1, limit=100)
    ]
    shared = [e for e in envelopes if e is not None]
    assert [e.type for e in shared] == [
        "person.registered",
        "ap.placement_started",
        "ap.placement_ended",
    ]
    assert all(len(r["event_ids"]) == 1 for r in replies)
    assert {e.person_key for e in shared} == {person_key(NHS_NUMBER, PARTNERSHIP_KEY)}
    assert (
        shared[1].payload.commissioned_by == "856" and shared[2].payload.outcome == "reintegrated"
    )


def test_placements_and_timetables_running_at_go_live_carry_their_system_and_dates(
    provider: Ingest, provider_app: ProviderApplication
) -> None:
    # given the provider's go-live rows: a placement running since 2024 and a timetable
    rows = [
        placement()[0],
        ("ap.start_placement", {
            "nhs_number": NHS_NUMBER, "placement_id": "AP001-P-9", "started_on": "2024-09-02",
            "tier": "3", "part_time": "false", "reason": "medical", "migrated_from": "sims",
        }),
        ("provider.start_part_time_timetable", {
            "nhs_number": NHS_NUMBER, "timetable_id": "AP001-T-9", "started_on": "2024-10-07",
            "hours_per_week": "15", "reason": "medical", "migrated_from": "sims",
        }),
    ]
    for name, fields in rows:
        assert provider.command(name, fields)["ok"], name
    # when shared
    translate = ProviderContract(provider_app, PARTNERSHIP_KEY)
    shared = {
        e.type: e
        for n in provider_app.recorder.select_notifications(start=1, limit=100)
        if (e := translate(provider_app.mapper.to_domain_event(n),
                           Stamp(uuid4(), "AP001", n.id, datetime.now(UTC)))) is not None
    }
    # then both are the current versions, naming the system, dated when they began
    started = shared["ap.placement_started"]
    assert (started.schema_version, started.payload.migrated_from) == (2, "sims")
    assert started.occurred_at == datetime(2024, 9, 2, tzinfo=UTC)
    timetable = shared["provider.part_time_timetable_started"]
    assert (timetable.schema_version, timetable.payload.migrated_from) == (2, "sims")
