"""A person's history across every organisation, for subject access requests and case reviews."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.topology import OrgKind
from projections.audit.person import person_history
from sendx.demo.population import LLR, WireEvent, kind_of
from tests.projections.audit.conftest import (
    child_known_to_everyone,
    run_sendx_audit,
    tiny_population,
)

PERSON = child_known_to_everyone(tiny_population())
"""A child with events from their LA, the ICB or trust, and a school, college or AP provider."""

pytestmark = pytest.mark.integration


def about(population: tuple[WireEvent, ...], person: str) -> list[dict]:
    return [orjson.loads(w.data) for w in population if w.subject.endswith(person)]


async def test_the_json_history_has_every_event_from_la_icb_and_provider_in_time_order(
    population: tuple[WireEvent, ...], nats_url: str, tmp_path: Path
) -> None:
    # when the auditor exports the person's history as JSON
    out = tmp_path / "history.json"
    status = await run_sendx_audit("person", PERSON, "--format", "json", "--out", str(out),
                                   "--nats", nats_url)

    # then every event about them is there, from the LA, the ICB and the college,
    # ordered by when it happened
    assert status == 0
    document = orjson.loads(out.read_bytes())
    expected = about(population, PERSON)
    assert document["count"] == len(expected)
    assert {e["event_id"] for e in document["events"]} == {e["event_id"] for e in expected}
    kinds = {kind_of(LLR, e["source_org"]) for e in document["events"]}
    assert kinds == {OrgKind.LA, OrgKind.ICB, OrgKind.PROVIDER}
    occurred = [e["occurred_at"] for e in document["events"]]
    assert occurred == sorted(occurred)
    plan = next(e for e in document["events"] if e["type"] == "ehc.plan_issued")
    assert plan["payload"]["plan_id"] and plan["stream_seq"] > 0


async def test_the_csv_history_flattens_the_payload_into_columns(
    population: tuple[WireEvent, ...], nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # when the auditor exports the person's history as CSV to stdout
    status = await run_sendx_audit("person", PERSON, "--format", "csv", "--nats", nats_url)

    # then there is one row per event, with the envelope's columns and one per payload field
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.strip())))
    assert len(rows) == len(about(population, PERSON))
    assert {"occurred_at", "type", "source_org", "stream_seq", "payload.plan_id"} <= set(rows[0])
    issued = next(r for r in rows if r["type"] == "ehc.plan_issued")
    assert issued["payload.plan_id"] and kind_of(LLR, issued["source_org"]) is OrgKind.LA
    assert {kind_of(LLR, r["source_org"]) for r in rows} == {
        OrgKind.LA, OrgKind.ICB, OrgKind.PROVIDER}


async def test_an_undecodable_message_about_the_person_is_listed_with_its_reason(
    js: JetStreamContext, nc: Client, population: tuple[WireEvent, ...]
) -> None:
    # given a message on the person's subject whose payload is invalid
    bad = {**about(population, PERSON)[0], "event_id": "0b1b3c4d-0000-4000-8000-000000000000"}
    bad["payload"] = {"unexpected": "field"}
    await js.publish(next(w.subject for w in population if w.subject.endswith(PERSON)),
                     orjson.dumps(bad))

    # when the history is exported
    history = await person_history(nc, PERSON)

    # then nothing is left out: the bad message is there, with why it could not be read
    (invalid,) = [e for e in history if e.envelope is None]
    assert invalid.invalid is not None and invalid.invalid.startswith("bad_payload")
    assert len(history) == len(about(population, PERSON)) + 1


async def test_a_person_key_that_is_not_pseudonymous_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # when the auditor passes something that is not a person key (an NHS number, say)
    with pytest.raises(SystemExit):
        await run_sendx_audit("person", "9434765919")

    # then the error says what a person key looks like
    assert "'9434765919' is not a pseudonymous key (p_ and 32 hex digits)" in (
        capsys.readouterr().err
    )
