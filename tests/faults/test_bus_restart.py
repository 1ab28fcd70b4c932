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
    people, resends = nhs_numbers(81), []
    people, marker = people[:80], people[80]
    # one new registration every 40 ms: the first half is sent while the bus is up ...
    before = [asyncio.create_task(send_until_accepted(client, f"reg-{n}", register(nhs), resends,
                                                      after=0.04 * n))
              for n, nhs in enumerate(people[:40])]

    async def on_the_stream(count: int) -> bool:
        return (await js.stream_info(EVENTS_STREAM)).state.messages >= count

    # when nats-server is stopped by PID mid-stream (the relay has published some) ...
    await eventually(lambda: on_the_stream(5), 30, what="the relay publishing")
    nats_server.stop()
    interrupted = len(resends)
    # ... the rest is sent during the outage, and it is started again on its port and store
    # once the partner has seen it
    during = [asyncio.create_task(send_until_accepted(client, f"reg-{n}", register(nhs), resends,
                                                      after=0.04 * (n - 40)))
              for n, nhs in enumerate(people[40:], start=40)]
    await eventually(lambda: len(resends) > interrupted, 30,
                     what="a command interrupted by the outage")
    nats_server.start()
    event_ids = [i for ids in await asyncio.gather(*before, *during) for i in ids]
    assert resends, "the restart should have interrupted some commands"
    # then every command's event reaches the stream exactly once: a marker registered last is
    # shared last, so nothing the relay sends again after it can hide
    marker_ids = await send_until_accepted(client, "reg-marker", register(marker), resends)
    await eventually(lambda: on_the_stream(len(people) + 1), 30, what="every event and the marker",
                     ignore=(nats.errors.Error, TimeoutError))
    last = await js.get_last_msg(EVENTS_STREAM, "send.evt.>")
    assert last.headers["Nats-Msg-Id"] == marker_ids[0]
    messages = await stream_messages(js)
    envelopes = [decode(m.data, subject=m.subject) for m in messages]
    assert sorted(str(e.event_id) for e in envelopes) == sorted(event_ids + marker_ids)
    assert len(envelopes) == len(people) + 1
    # and the LA's chain is unbroken, in the order it stored them
    assert [e.source_position for e in envelopes] == sorted(e.source_position for e in envelopes)
    assert chain_breaks([(m.data, e) for m, e in zip(messages, envelopes, strict=True)]) == []
    # and the service is still up
    assert service.process.poll() is None
    await nc.close()
