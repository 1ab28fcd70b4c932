"""ICB/NHS trust extracts and the shared events they produce: rows named on error, re-imports
idempotent, and a referral stored before `priority` existed still shared as the current version."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import orjson
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import StoredEvent
from stories import NHS_NUMBER, PARTNERSHIP_KEY, as_rows, person_fields

from contracts.health import ReferralMade
from contracts.topology import OrgKind
from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from sendx.demo.extracts import columns_for, write_extract
from services.domain.identity import person_key
from services.endpoint.ingest import Ingest, read_extract
from services.icb.application import IcbApplication
from services.icb.ingest import ICB_CATALOGUE
from services.icb.pathways import Referral
from services.icb.translation import IcbContract
from services.sharing.relay import Stamp


def pathway() -> list[tuple[str, dict]]:
    return [
        ("person.register", person_fields()),
        (
            "health.make_referral",
            {
                "nhs_number": NHS_NUMBER,
                "referral_id": "RT5-R-1",
                "referred_on": "2024-01-08",
                "pathway": "slt",
            },
        ),
        ("health.start_assessment", {"referral_id": "RT5-R-1", "started_on": "2024-04-02"}),
        (
            "health.set_ehc_plan_flag",
            {"nhs_number": NHS_NUMBER, "set_on": "2025-06-01", "la_code": "856"},
        ),
    ]


def test_an_invalid_nhs_number_is_rejected_naming_the_row_and_field(icb: Ingest) -> None:
    rows = [
        *as_rows(pathway()),
        {
            "record_id": "r5",
            "command": "health.make_referral",
            "nhs_number": "9434765918",
            "referral_id": "RT5-R-2",
            "referred_on": "2024-01-08",
            "pathway": "slt",
        },
    ]
    report = icb.import_rows({"rows": rows, "row_numbers": [2, 3, 4, 5, 6]})
    assert (report["accepted"], report["rejected"]) == (4, 1)
    assert report["rows"][4]["error"] == (
        "row 6, field nhs_number: NHS number fails the modulus-11 check digit"
    )


def test_reimporting_an_extract_is_idempotent_on_the_partners_record_ids(
    icb: Ingest, icb_app: IcbApplication, tmp_path: Path
) -> None:
    # given the extract written as CSV with every ICB column
    path = write_extract(as_rows(pathway()), tmp_path / "icb.csv", columns_for(OrgKind.ICB))
    numbered = list(read_extract(path))
    body = {"rows": [r for _, r in numbered], "row_numbers": [n for n, _ in numbered]}
    first = icb.import_rows(body)
    stored = icb_app.recorder.max_notification_id()
    # when it is imported again
    again = icb.import_rows(body)
    # then every row is a duplicate with its original event ids, and nothing new is stored
    assert first["accepted"] == 4 and again["duplicates"] == 4
    assert [r["event_ids"] for r in again["rows"]] == [r["event_ids"] for r in first["rows"]]
    assert icb_app.recorder.max_notification_id() == stored


def test_a_reused_record_id_for_other_content_is_refused(icb: Ingest) -> None:
    icb.import_rows({"rows": as_rows(pathway()[:1])})
    other = {**as_rows(pathway()[:1])[0], "given_name": "Someone"}
    report = icb.import_rows({"rows": [other]})
    assert report["rows"][0]["error"] == (
        "row 1: record_id r1 was already imported as a different person.register row; give "
        "every new row its own record_id"
    )


def shared(app: IcbApplication) -> list:
    translate = IcbContract(app, PARTNERSHIP_KEY)
    envelopes = []
    for n in app.recorder.select_notifications(start=1, limit=100):
        stamp = Stamp(uuid4(), "QK1", n.id, datetime.now(UTC))
        envelopes.append(translate(app.mapper.to_domain_event(n), stamp))
    return [e for e in envelopes if e is not None]


def test_shared_events_name_the_child_only_by_the_partnership_pseudonym(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    for name, fields in pathway():
        assert icb.command(name, fields)["ok"]
    envelopes = shared(icb_app)
    assert [e.type for e in envelopes] == [
        "person.registered",
        "health.referral_made",
        "health.assessment_started",
        "health.ehc_plan_flag_set",
    ]
    assert {e.person_key for e in envelopes} == {person_key(NHS_NUMBER, PARTNERSHIP_KEY)}
    assert envelopes[0].payload.birth_month == "2011-04"
    for envelope in envelopes:
        body = envelope.model_dump_json()
        assert NHS_NUMBER not in body and "Amelia" not in body and "2011-04-17" not in body


def test_a_referral_stored_before_priority_existed_is_shared_as_current_routine(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given a referral stored by an earlier version of the service (stored class version 1)
    for name, fields in pathway()[:2]:
        assert icb.command(name, fields)["ok"]
    made = next(
        n
        for n in icb_app.recorder.select_notifications(start=1, limit=10)
        if n.topic.endswith("Referral.Made")
    )
    state = orjson.loads(made.state)
    del state["priority"], state["class_version"]
    old = StoredEvent(made.originator_id, made.originator_version, made.topic, orjson.dumps(state))
    # when it is read back and translated for the bus
    event = icb_app.mapper.to_domain_event(old)
    envelope = IcbContract(icb_app, PARTNERSHIP_KEY)(
        event, Stamp(uuid4(), "QK1", 2, event.timestamp)
    )
    # then it is the current contract version, triaged routine
    assert isinstance(event, Referral.Made) and event.priority == "routine"
    assert envelope is not None and isinstance(envelope.payload, ReferralMade)
    assert (envelope.schema_version, envelope.payload.priority) == (3, "routine")
    assert envelope.payload.migrated_from is None


def test_go_live_referrals_and_diagnoses_are_shared_with_the_system_they_came_from(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given the trust's go-live rows: an open referral of 2023 and a diagnosis naming it
    rows = [
        ("person.register", person_fields()),
        ("health.make_referral", {
            "nhs_number": NHS_NUMBER, "referral_id": "RT5-R-7", "referred_on": "2023-06-05",
            "pathway": "neurodevelopmental", "migrated_from": "systmone",
        }),
        ("health.record_diagnosis", {
            "nhs_number": NHS_NUMBER, "diagnosis_id": "RT5-D-7", "diagnosed_on": "2024-02-01",
            "condition": "autism", "referral_id": "RT5-R-7", "migrated_from": "systmone",
        }),
    ]
    for name, fields in rows:
        assert icb.command(name, fields)["ok"], name
    # when the relay translates what was stored
    translate = IcbContract(icb_app, PARTNERSHIP_KEY)
    shared = [
        translate(event, Stamp(uuid4(), "RT5", n.id, event.timestamp))
        for n in icb_app.recorder.select_notifications(start=1, limit=10)
        if (event := icb_app.mapper.to_domain_event(n)) is not None
    ]
    by_type = {e.type: e for e in shared if e is not None}
    # then both carry their provenance and their real dates
    referral = by_type["health.referral_made"]
    assert (referral.schema_version, referral.payload.migrated_from) == (3, "systmone")
    assert referral.occurred_at == datetime(2023, 6, 5, tzinfo=UTC)
    diagnosis = by_type["health.diagnosis_recorded"]
    assert (diagnosis.schema_version, diagnosis.payload.migrated_from) == (4, "systmone")
    assert diagnosis.payload.referral_id == "RT5-R-7"


def shared_by_type(icb_app: IcbApplication) -> dict[str, list]:
    """What the relay would publish for everything stored, by contract type."""
    translate = IcbContract(icb_app, PARTNERSHIP_KEY)
    shared: dict[str, list] = {}
    for n in icb_app.recorder.select_notifications(start=1, limit=50):
        event = icb_app.mapper.to_domain_event(n)
        envelope = translate(event, Stamp(uuid4(), "QK1", n.id, event.timestamp))
        if envelope is not None:
            shared.setdefault(envelope.type, []).append(envelope)
    return shared


def test_go_live_health_checks_and_dsr_ratings_carry_their_system_and_real_dates(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given the ICB's go-live rows: the LD register (a diagnosis held for years), the last
    # annual health check the GP practice holds, and the person's rating on the DSR
    rows = [
        ("person.register", person_fields()),
        ("health.record_diagnosis", {
            "nhs_number": NHS_NUMBER, "diagnosis_id": "QK1-D-1", "diagnosed_on": "2019-03-01",
            "condition": "learning_disability", "no_referral_reason": "historic_record",
            "migrated_from": "emis-web",
        }),
        ("health.complete_annual_health_check", {
            "nhs_number": NHS_NUMBER, "completed_on": "2026-02-10", "health_action_plan": "true",
            "migrated_from": "emis-web",
        }),
        ("health.change_dsr_status", {
            "nhs_number": NHS_NUMBER, "changed_on": "2025-09-01", "status": "amber",
            "migrated_from": "systmone",
        }),
        # and, after go-live, a rating observed live
        ("health.change_dsr_status", {
            "nhs_number": NHS_NUMBER, "changed_on": "2026-10-01", "status": "red",
        }),
    ]
    for name, fields in rows:
        assert icb.command(name, fields)["ok"], name
    # when the relay translates what was stored
    shared = shared_by_type(icb_app)
    # then each go-live fact is the new contract version, with its system and its real date
    (check,) = shared["health.annual_health_check_completed"]
    assert (check.schema_version, check.payload.migrated_from) == (2, "emis-web")
    assert check.occurred_at == datetime(2026, 2, 10, tzinfo=UTC)
    migrated, live = shared["health.dsr_status_changed"]
    assert (migrated.schema_version, migrated.payload.migrated_from) == (2, "systmone")
    assert migrated.occurred_at == datetime(2025, 9, 1, tzinfo=UTC)
    assert (live.payload.status, live.payload.migrated_from) == ("red", None)
    assert "migrated_from" not in orjson.loads(live.payload.model_dump_json())


def test_a_health_check_stored_before_provenance_existed_is_shared_as_observed_live(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given a health check stored by a version without `migrated_from`
    for name, fields in [
        ("person.register", person_fields()),
        ("health.complete_annual_health_check", {
            "nhs_number": NHS_NUMBER, "completed_on": "2026-02-10", "health_action_plan": True,
        }),
    ]:
        assert icb.command(name, fields)["ok"], name
    stored = next(
        n
        for n in icb_app.recorder.select_notifications(start=1, limit=10)
        if n.topic.endswith("AnnualHealthCheckCompleted")
    )
    state = orjson.loads(stored.state)
    del state["migrated_from"], state["class_version"]
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(state)
    )
    # when it is read back and translated
    event = icb_app.mapper.to_domain_event(old)
    envelope = IcbContract(icb_app, PARTNERSHIP_KEY)(
        event, Stamp(uuid4(), "QK1", 2, event.timestamp)
    )
    # then it is the current version, observed live
    assert envelope is not None and envelope.schema_version == 2
    assert envelope.payload.migrated_from is None


def test_with_a_cipher_key_the_stored_identifiers_are_encrypted_at_rest(tmp_path: Path) -> None:
    # given an NHS organisation whose store has a cipher key
    org = organisation("RT5")
    settings = Settings(
        data_dir=tmp_path,
        store="sqlite",
        partnership_key=PARTNERSHIP_KEY,
        cipher_key=AESCipher.create_key(32),
    )
    app = IcbApplication(org, store_env(org, settings))
    try:
        # when a person is registered and referred
        for name, fields in pathway()[:2]:
            assert Ingest(app, ICB_CATALOGUE).command(name, fields)["ok"]
        # then the store still reads back, but its file holds no identifier in clear
        assert app.repository.get(app.person(NHS_NUMBER, "test").id).given_name == "Amelia"
    finally:
        app.factory.close()
    raw = (tmp_path / "icb-RT5.sqlite").read_bytes()
    assert NHS_NUMBER.encode() not in raw and b"Amelia" not in raw and b"2011-04-17" not in raw


def test_the_translator_learns_whose_referral_it_is_and_reads_the_store_only_when_it_forgot(
    icb: Ingest, icb_app: IcbApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a child's pathway stored by the ICB
    for name, fields in pathway():
        assert icb.command(name, fields)["ok"]
    reads: list[object] = []
    get = icb_app.repository.get
    monkeypatch.setattr(icb_app.repository, "get", lambda i, *a, **k: reads.append(i) or get(i))
    events = [
        icb_app.mapper.to_domain_event(n) for n in icb_app.recorder.select_notifications(1, 100)
    ]
    stamp = Stamp(uuid4(), "QK1", 1, datetime.now(UTC))
    # when one translator follows the log from the start and one remembers a single aggregate
    follower = IcbContract(icb_app, PARTNERSHIP_KEY)
    followed = [follower(e, stamp) for e in events]
    assert reads == []
    forgetter = IcbContract(icb_app, PARTNERSHIP_KEY, remember=1)
    forgetful = [forgetter(e, stamp) for e in events]
    # then both name the child the same way; only the forgetful one read the store
    expected = person_key(NHS_NUMBER, PARTNERSHIP_KEY)
    assert (
        {e.person_key for e in followed if e}
        == {e.person_key for e in forgetful if e}
        == {expected}
    )
    assert followed == forgetful and reads


def test_a_referral_closed_without_assessment_is_shared_and_closing_after_one_is_refused(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given a referral with its first assessment, and another never assessed
    for name, fields in pathway()[:3]:
        assert icb.command(name, fields)["ok"]
    assert icb.command("health.make_referral", {
        "nhs_number": NHS_NUMBER, "referral_id": "RT5-R-2", "referred_on": "2024-05-06",
        "pathway": "camhs",
    })["ok"]
    # when the trust closes both, the second because the family moved away
    refused = icb.command("health.close_referral", {
        "referral_id": "RT5-R-1", "closed_on": "2024-06-03", "reason": "discharged"})
    closed = icb.command("health.close_referral", {
        "referral_id": "RT5-R-2", "closed_on": "2024-09-02", "reason": "moved_away"})
    # then the assessed one is refused, saying why, and the other is shared with its pathway
    assert refused == {"ok": False, "error": (
        "health.referral_closed for referral RT5-R-1: its first assessment was on 2024-04-02; "
        "a referral closed without assessment is one that never had one")}
    assert closed["ok"], closed
    (envelope,) = [e for e in shared(icb_app) if e.type == "health.referral_closed"]
    assert envelope.payload.model_dump() == {
        "referral_id": "RT5-R-2", "closed_on": date(2024, 9, 2), "reason": "moved_away",
        "pathway": "camhs",
    }
    # and an assessment after the closing is refused
    late = icb.command("health.start_assessment",
                       {"referral_id": "RT5-R-2", "started_on": "2024-10-01"})
    assert late["error"] == (
        "health.assessment_started for referral RT5-R-2: the referral was closed on 2024-09-02"
    )


def test_a_complaint_about_health_provision_is_shared_under_the_pseudonym_only(
    icb: Ingest, icb_app: IcbApplication
) -> None:
    # given a complaint received and resolved by the ICB
    rows = [
        ("person.register", person_fields()),
        ("disagreement.receive_complaint", {"nhs_number": NHS_NUMBER, "complaint_id": "QK1-K-1",
                                            "received_on": "2025-03-03",
                                            "subject": "health_provision"}),
        ("disagreement.resolve_complaint", {"complaint_id": "QK1-K-1",
                                            "resolved_on": "2025-04-14", "outcome": "upheld"}),
    ]
    for name, fields in rows:
        assert icb.command(name, fields)["ok"], name
    # then both are shared, dated as they happened, about the child's pseudonym
    received, resolved = [e for e in shared(icb_app) if e.type.startswith("disagreement.")]
    assert (received.type, resolved.type) == (
        "disagreement.complaint_received", "disagreement.complaint_resolved",
    )
    assert received.person_key == resolved.person_key == person_key(NHS_NUMBER, PARTNERSHIP_KEY)
    assert (received.payload.subject, resolved.payload.outcome) == ("health_provision", "upheld")
    assert resolved.occurred_at.date().isoformat() == "2025-04-14"
    # and resolving a complaint it never received is refused, naming it
    answer = icb.command("disagreement.resolve_complaint", {
        "complaint_id": "QK1-K-2", "resolved_on": "2025-04-14", "outcome": "upheld"})
    assert not answer["ok"]
    assert "complaint QK1-K-2: no complaint received by QK1 has this id" in answer["error"]
