"""The command API a service runs is the one the AsyncAPI document publishes: every documented
subject of every kind, and every alias, is answered by the running service's endpoint with that
operation's reply (a refusal naming the command for an empty body, never "unknown command"), and
the operator's quarantine requests are answered though they are not published. The row report an
import sends (`services.endpoint.ingest.RowReport`) is checked against the documented one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from faststream.nats import TestNatsBroker
from stories import PARTNERSHIP_KEY

from contracts.topology import OrgKind
from runtime.partnership import organisation
from runtime.settings import Settings
from sendx.commands.schemas import asyncapi_document
from services.endpoint.command_api import CommandReply, Desk, ImportReply, RowReport
from services.endpoint.process import SERVICE_DEFINITIONS, OrganisationService, definition_for

ORG_OF_KIND = {OrgKind.LA: "856", OrgKind.ICB: "QK1", OrgKind.PROVIDER: "120001"}


def documented_subjects(kind: OrgKind) -> dict[str, str]:
    """{last subject token: reply message name} of the kind's operations in the document."""
    document = asyncapi_document()
    subjects = {}
    for key, operation in document["operations"].items():
        if not key.startswith(f"{kind.value}:"):
            continue
        channel = document["channels"][operation["channel"]["$ref"].split("/")[-1]]
        reply = operation["reply"]["messages"][0]["$ref"].split("/")[-1]
        subjects[channel["address"].removeprefix("send.cmd.{org}.")] = reply
    return subjects


@pytest.mark.parametrize("kind", list(SERVICE_DEFINITIONS), ids=lambda k: k.value)
async def test_every_documented_subject_is_answered_by_the_running_service(
    tmp_path: Path, kind: OrgKind
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", store="sqlite", partnership_key=PARTNERSHIP_KEY,
        cipher_key=None,
    )
    code = ORG_OF_KIND[kind]
    service = OrganisationService(definition_for(kind), organisation(code), settings=settings)
    replies = {"CommandReply": CommandReply, "ImportReply": ImportReply}
    subjects = documented_subjects(kind)
    aliases = {
        alias: subjects[route.name]
        for route in service.definition.api.routes
        for alias in route.aliases
        if route.desk is Desk.COMMAND
    }
    assert subjects and aliases
    try:
        async with TestNatsBroker(
            service.broker, service.unknown_names_broker
        ) as (broker, _):
            for name, reply in {**subjects, **aliases}.items():
                answer = await (await broker.request(b"{}", f"send.cmd.{code}.{name}")).decode()
                replies[reply].model_validate(answer)  # the documented reply, nothing else
                assert answer["ok"] is False
                assert "unknown command" not in answer["error"], (name, answer)
            operator = await broker.request(b"{}", f"send.cmd.{code}.quarantine.list")
            listed = await operator.decode()
            assert listed == {"ok": True, "open": 0, "events": []}
            assert "quarantine.list" not in subjects
    finally:
        service.app.factory.close()


def test_the_row_reports_an_import_sends_are_the_documented_row_report() -> None:
    from services.endpoint import ingest

    accepted = ingest.RowReport(1, "A-1", True, ["7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e"], True)
    rejected = ingest.RowReport(2, None, False, error="row 2, field record_id: required")
    for report in (accepted, rejected):
        assert RowReport.model_validate(report.to_json()).model_dump(exclude_unset=True) == (
            report.to_json()
        )
    assert set(RowReport.model_fields) == {
        f.name for f in dataclasses.fields(ingest.RowReport)
    }
