"""The LA service process: partner commands over NATS in, contract events on SEND_EVENTS out."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.nats import TestNatsBroker
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from stories import NHS_NUMBER, as_rows, person_fields, story

from contracts import decode
from contracts.topology import OrgKind
from runtime.bus.streams import EVENTS_STREAM
from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.stopping import finish_within, registered
from services.endpoint import client as client_module
from services.endpoint.client import NO_RESPONDERS_GRACE, ServiceClient, ServiceUnavailable
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually


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


async def wait_for_stream(js: JetStreamContext, count: int, timeout: float = 20.0) -> None:
    async def enough() -> bool:
        return await stream_count(js) >= count

    await eventually(enough, timeout, what=f"{count} events on the stream")


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
    # and a marker registered after it: the relay shares in log order, so once the marker is
    # on the stream anything the re-import had recorded would be there before it
    marker = await client.command(*story(nhs_number="4010232137")[0])
    await wait_for_stream(js, 5)
    # then row 5 is rejected naming the field, and the second import added nothing
    assert (first.accepted, first.rejected) == (4, 1)
    assert (
        first.rows[4]["error"]
        == "row 5, field nhs_number: NHS number must be 10 digits, got 5 characters"
    )
    assert (again.accepted, again.duplicates) == (4, 4)
    assert await stream_count(js) == 5
    last = await js.get_last_msg(EVENTS_STREAM, "send.evt.>")
    assert last.headers["Nats-Msg-Id"] == marker["event_ids"][0]


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
        async with TestNatsBroker(
            service.broker, service.unknown_names_broker
        ) as (broker, _):
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


@pytest.mark.integration
async def test_a_command_sent_while_the_service_is_starting_is_answered_once_it_is_up(
    nats_url: str, nc: Client, js: JetStreamContext, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a partner's command resent while no service answers (a grace longer than any
    # start-up on a loaded machine, so the test does not depend on how fast it starts)
    monkeypatch.setattr(client_module, "NO_RESPONDERS_GRACE", 30.0)
    client = ServiceClient(nc, "856", timeout=10)
    refused: list[NoRespondersError] = []
    request = client._request

    async def noting_refusals(subject: str, data: bytes) -> Any:
        try:
            return await request(subject, data)
        except NoRespondersError as exc:
            refused.append(exc)
            raise

    monkeypatch.setattr(client, "_request", noting_refusals)
    async with asyncio.timeout(60):  # a hang fails here, and every fixture still stops its PID
        pending = asyncio.create_task(client.command(*story()[0]))
        try:
            await eventually(lambda: refused, 20, what="the server to refuse the command once")
            assert not pending.done()
            # when the service starts
            async with OrganisationService(
                definition_for(OrgKind.LA), organisation("856"), settings=settings,
                nats_url=nats_url, poll_interval=0.1,
            ):
                # then the command is answered once it is up, and applied once
                reply = await pending
                assert reply["ok"] and len(reply["event_ids"]) == 1, reply
                await wait_for_stream(js, 1)
        finally:
            pending.cancel()
    assert await stream_count(js) == 1


class HeldImports:
    """Holds each import in its store thread (as if deciding it took long) until released."""

    def __init__(self, service: OrganisationService) -> None:
        self.deciding, self.released = threading.Event(), threading.Event()
        decide = service.ingest.import_rows

        def held(body: dict[str, Any]) -> dict[str, Any]:
            self.deciding.set()
            if not self.released.wait(30):
                raise TimeoutError("the test never released the import")
            return decide(body)

        service.ingest.import_rows = held  # type: ignore[method-assign]

    async def until_deciding(self) -> None:
        assert await asyncio.to_thread(self.deciding.wait, 10), "the import never started"


@pytest.fixture
def service_with_grace(
    nats_url: str, js: JetStreamContext, settings: Settings
) -> Callable[[float], OrganisationService]:
    def make(stop_grace: float) -> OrganisationService:
        return OrganisationService(
            definition_for(OrgKind.LA), organisation("856"), settings=settings,
            nats_url=nats_url, poll_interval=0.1, stop_grace=stop_grace,
        )

    return make


@pytest.mark.integration
async def test_a_stop_answers_the_import_being_decided_and_refuses_the_command_behind_it(
    service: OrganisationService, nc: Client
) -> None:
    held = HeldImports(service)
    try:
        client = ServiceClient(nc, "856", timeout=20)
        # given an import being decided, and a command delivered behind it
        rows = list(enumerate(as_rows(story()), start=1))
        importing = asyncio.create_task(client.import_rows(rows))
        await held.until_deciding()
        behind = asyncio.create_task(client.command(*story("856-C-2", "856-P-2", "4010232137")[0]))
        await asyncio.sleep(0)
        await registered(nc)  # the server has routed it to the service
        # when the service is stopped, and the import finishes meanwhile
        stop = asyncio.create_task(service.stop())
        await eventually(lambda: service._stopping, 20, what="the stop to begin")
        held.released.set()
        # then the import is answered row by row, and the command behind it is refused clearly
        report = await asyncio.wait_for(importing, 20)
        assert (report.accepted, report.rejected) == (4, 0), report.rows
        refused = await asyncio.wait_for(behind, 20)
        assert refused == {
            "ok": False,
            "error": "person.register: the 856 service is stopping; nothing was recorded, "
                     "send it again once the service is back",
        }
        # and the stop ends
        await asyncio.wait_for(stop, 20)
    finally:
        held.released.set()


@pytest.mark.integration
async def test_a_stop_ends_after_its_grace_naming_the_import_it_could_not_wait_for(
    service_with_grace: Callable[[float], OrganisationService], nc: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = service_with_grace(0.5)
    await service.start()
    held = HeldImports(service)
    try:
        client = ServiceClient(nc, "856", timeout=3)
        # given an import whose deciding outlasts the stop's grace
        importing = asyncio.create_task(client.import_rows(list(enumerate(as_rows(story()), 1))))
        await held.until_deciding()
        # when the service is stopped (the import stays held for 30 s, so a stop that waited
        # for it would be cut short here)
        with caplog.at_level(logging.WARNING, logger="services.endpoint.process"):
            await asyncio.wait_for(service.stop(), 15)
        # then the stop ends after the grace, without the import, saying what it could not
        # wait for
        assert "waiting 0.5s for the commands in flight (import (4 rows))" in caplog.text
        assert "a store call (import (4 rows)) outlived shutdown" in caplog.text
        # and the partner is told there was no reply (resending is safe: imports are idempotent)
        with pytest.raises(ServiceUnavailable, match="no reply within 3"):
            await importing
    finally:
        held.released.set()
        await service.stop()  # the one above, or one for a test that failed before it
        if await service.store_threads.drain():  # the import thread has ended
            service.app.factory.close()


@pytest.mark.integration
async def test_a_stop_that_lands_as_the_relay_is_woken_still_ends(
    service: OrganisationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a command saved just as the stop reaches the relay: its poke wakes the relay in the
    # same loop iteration as the stop cancels it (Python 3.11's wait_for then drops the cancel)
    stop_endpoint = service.broker.stop

    async def stop_endpoint_then_poke(*args: Any) -> None:
        await stop_endpoint(*args)
        assert service.relay is not None
        service.relay.poke()

    monkeypatch.setattr(service.broker, "stop", stop_endpoint_then_poke)
    # when the service stops
    await asyncio.wait_for(service.stop(), 15)
    # then the relay has ended too
    assert service.relay_task is not None and service.relay_task.done()


async def test_a_stop_step_that_ignores_cancellation_is_left_behind_naming_where_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a step of a stop that never ends, even when cancelled
    released = asyncio.Event()

    async def close_that_never_returns() -> None:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    # when the stop waits for it
    with caplog.at_level(logging.WARNING, logger="services.endpoint.process"):
        finished = await asyncio.wait_for(
            finish_within("856", "the relay's connection to close", close_that_never_returns(),
                          0.2),
            5,
        )
    # then the stop goes on, saying what it waited for and where that was stuck
    assert finished is False
    assert "856: stop went on after waiting 0.2s for the relay's connection to close (still in " \
           "test_a_stop_step_that_ignores_cancellation_is_left_behind_naming_where_it_waits." \
           "<locals>.close_that_never_returns (test_process.py:" in caplog.text
    released.set()
    await asyncio.sleep(0.01)  # the step left behind ends with the test
