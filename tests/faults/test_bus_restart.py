"""nats-server restarted while partners keep sending commands: the relay resumes, and every
command's event is on the stream exactly once, in an unbroken chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats.errors
import pytest
from fault_harness import Processes, nhs_numbers, service_args
from nats.js import JetStreamContext

from contracts import decode
from contracts.chain import chain_breaks
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM
from services.endpoint.client import ServiceClient, ServiceUnavailable
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def register(nhs_number: str) -> dict[str, str]:
    return {
        "nhs_number": nhs_number, "given_name": "Test", "family_name": "Child",
        "born_on": "2012-03-04",
    }


async def send_until_accepted(
    client: ServiceClient, record_id: str, fields: dict, resends: list[str], after: float = 0.0
) -> list[str]:
    """What a partner system does: resend with the same record_id until the service answers."""
    await asyncio.sleep(after)
    async with asyncio.timeout(60):
        while True:
            try:
                reply = await client.command("person.register", fields, record_id=record_id)
            except (ServiceUnavailable, nats.errors.Error, TimeoutError):  # bus restarting
                resends.append(record_id)
                await asyncio.sleep(0.1)
                continue
            assert reply["ok"], reply
            return reply["event_ids"]


async def stream_messages(js: JetStreamContext) -> list:
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    return [await js.get_msg(EVENTS_STREAM, seq) for seq in range(1, count + 1)]


async def test_a_restarted_bus_loses_and_doubles_nothing_a_service_publishes(
    nats_server: NatsServer, js: JetStreamContext, processes: Processes, tmp_path: Path
) -> None:
    # given the LA service as its own process, and a partner sending registrations
    env = {"SENDX_DATA_DIR": str(tmp_path / "data"), "NATS_URL": nats_server.url}
    service = processes.start("service", service_args(), env)
    service.wait_for_output("commands on send.cmd.856.>")
    nc = await connect_bus(nats_server.url, name="test-partner")
    client = ServiceClient(nc, "856", timeout=2)
    people, resends = nhs_numbers(80), []
    # one new registration every 40 ms for 3.2 s, so the outage below always falls among them
    sending = asyncio.gather(
        *(
            send_until_accepted(client, f"reg-{n}", register(nhs), resends, after=0.04 * n)
            for n, nhs in enumerate(people)
        )
    )
    # when nats-server is stopped by PID mid-stream and started again on its port and store
    await asyncio.sleep(1.0)
    nats_server.stop()
    # kept down until a partner has had to resend (the positive marker that the outage fell
    # among the commands: requests sent meanwhile wait in the client's buffer and time out)
    await eventually(lambda: resends, timeout=30, what="a partner resending during the outage")
    nats_server.start()
    event_ids = [i for ids in await sending for i in ids]
    # then every command's event reaches the stream exactly once
    async with asyncio.timeout(30):
        while (await js.stream_info(EVENTS_STREAM)).state.messages < len(people):
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # a relay that doubled would do so within its retry interval
    messages = await stream_messages(js)
    envelopes = [decode(m.data, subject=m.subject) for m in messages]
    assert sorted(str(e.event_id) for e in envelopes) == sorted(event_ids)
    assert len(envelopes) == len(people)
    # and the LA's chain is unbroken, in the order it stored them
    assert [e.source_position for e in envelopes] == sorted(e.source_position for e in envelopes)
    assert chain_breaks([(m.data, e) for m, e in zip(messages, envelopes, strict=True)]) == []
    # and the service is still up
    assert service.process.poll() is None
    await nc.close()
