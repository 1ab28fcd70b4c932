"""The LA service process: partner commands over NATS in, contract events on SEND_EVENTS out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from faststream.nats import TestNatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from stories import NHS_NUMBER, as_rows, person_fields, story

from contracts import decode
from contracts.topology import OrgKind, organisation
from services.bus.streams import EVENTS_STREAM
from services.client import NO_RESPONDERS_GRACE, ServiceClient, ServiceUnavailable
from services.config import Settings
from services.process import OrganisationService, definition_for


@pytest.fixture
async def service(
    nats_url: str, js: JetStreamContext, settings: Settings
) -> AsyncIterator[OrganisationService]:
    async with OrganisationService(
        definition_for(OrgKind.LA),
        organisation("856"),
        settings=settings,
        nats_url=nats_url,
        poll_interval=0.1,
    ) as running:
        yield running


@pytest.fixture
def client(nc: Client) -> ServiceClient:
    return ServiceClient(nc, "856", timeout=10)


async def stream_count(js: JetStreamContext) -> int:
    return (await js.stream_info(EVENTS_STREAM)).state.messages


async def wait_for_stream(js: JetStreamContext, count: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await stream_count(js) < count:
        assert asyncio.get_running_loop().time() < deadline, (
            f"stream has {await stream_count(js)} of {count}"
        )
        await asyncio.sleep(0.05)


@pytest.mark.integration
async def test_a_plan_issued_through_the_command_api_is_shared_as_a_contract_event(
    service: OrganisationService, client: ServiceClient, js: JetStreamContext
) -> None:
    # given a partner system sending the story one command at a time
    replies = [await client.command(name, fields) for name, fields in story()]
    assert all(r["ok"] for r in replies), replies
    plan_event_id = replies[-1]["event_ids"][0]
    # when the relay has caught up
    await wait_for_stream(js, 4)
    # then the plan is on SEND_EVENTS under the LA's subject, as a valid contract event
    message = await js.get_last_msg(EVENTS_STREAM, "send.evt.v1.856.ehc.plan_issued.>")
    envelope = decode(message.data, subject=message.subject)
    assert str(envelope.event_id) == plan_event_id == message.headers["Nats-Msg-Id"]
    assert envelope.payload.plan_id == "856-P-1" and envelope.source_org == "856"
    # and nothing that identifies the child is in the bytes
    for secret in (NHS_NUMBER, "Amelia", "Okonkwo", "2011-04-17"):
        assert secret.encode() not in message.data


@pytest.mark.integration
async def test_an_import_over_nats_reports_each_row_and_a_reimport_publishes_nothing(
    service: OrganisationService, client: ServiceClient, js: JetStreamContext
) -> None:
    # given an extract with one malformed row
    rows = [(n, row) for n, row in enumerate(as_rows(story()), start=1)]
    rows.append((5, {"record_id": "r5", "command": "person.register", **person_fields("12345")}))
    # when imported twice
    first = await client.import_rows(rows, batch_size=2)
    await wait_for_stream(js, 4)
    again = await client.import_rows(rows, batch_size=2)
    await asyncio.sleep(0.3)
    # then row 5 is rejected naming the field, and the second import added nothing
    assert (first.accepted, first.rejected) == (4, 1)
    assert (
        first.rows[4]["error"]
        == "row 5, field nhs_number: NHS number must be 10 digits, got 5 characters"
    )
    assert (again.accepted, again.duplicates) == (4, 4)
    assert await stream_count(js) == 4


async def test_an_extract_larger_than_one_bus_message_is_split_and_an_oversized_row_refused(
    service: OrganisationService, client: ServiceClient, js: JetStreamContext
) -> None:
    # given the four rows of a story padded to ~400 KB each, and one row over the 1 MiB limit
    padding = {"_note": "x" * 400_000}
    rows = [(n, {**row, **padding}) for n, row in enumerate(as_rows(story()), start=1)]
    rows.append((5, {"record_id": "r5", "command": "person.register", "_note": "y" * 1_100_000}))
    # when imported (the padding is an unknown field, so the service refuses those rows itself)
    report = await client.import_rows(rows, batch_size=200)
    # then every row has its own answer: the big one refused before sending, naming the limit
    assert [r["row"] for r in report.rows] == [1, 2, 3, 4, 5]
    assert all("_note" in r["error"] for r in report.rows[:4])
    assert report.rows[4]["error"].startswith("row 5: ")
    assert "more than the bus carries in one message" in report.rows[4]["error"]


async def test_bad_bodies_get_an_error_reply_not_a_timeout(settings: Settings) -> None:
    # given the service's command endpoint wired to an in-memory broker (no NATS needed)
    service = OrganisationService(
        definition_for(OrgKind.LA), organisation("856"), settings=settings
    )
    try:
        async with TestNatsBroker(service.broker) as broker:
            # when a partner sends rubbish, an unknown command and an import without rows
            not_json = await broker.request(b"{nope", "send.cmd.856.ehc.issue_plan")
            unknown = await broker.request(b"{}", "send.cmd.856.ehc.make_it_so")
            no_rows = await broker.request(b"{}", "send.cmd.856.import")
            # then each gets a JSON error naming the problem
            assert (await not_json.decode())["error"].startswith(
                "ehc.issue_plan: the body is not valid JSON"
            )
            assert (await unknown.decode())["error"].startswith(
                "unknown command 'ehc.make_it_so'; known:"
            )
            assert (await no_rows.decode()) == {
                "ok": False,
                "error": 'import body must be {"rows": [ {...}, ... ]}',
            }
    finally:
        service.app.factory.close()


async def test_a_service_refuses_an_organisation_of_another_kind(settings: Settings) -> None:
    with pytest.raises(ValueError, match="organisation QK1 is of kind icb, not la"):
        OrganisationService(definition_for(OrgKind.LA), organisation("QK1"), settings=settings)


@pytest.mark.integration
async def test_a_command_with_no_service_is_resent_briefly_then_names_the_missing_one(
    nc: Client,
) -> None:
    client = ServiceClient(nc, "856", timeout=10)
    # given no service yet: the command is refused, naming the organisation and what to run
    started = asyncio.get_running_loop().time()
    with pytest.raises(ServiceUnavailable) as refused:
        await client.command(*story()[0])
    assert asyncio.get_running_loop().time() - started >= NO_RESPONDERS_GRACE
    assert "no service for organisation 856 answers on send.cmd.856." in str(refused.value)
    assert "`sendx service <kind> --org 856` running?" in str(refused.value)
