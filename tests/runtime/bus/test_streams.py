"""The shared history stream: created idempotently, keeps everything, deduplicates by event id."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType

from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import EVENTS_STREAM, ensure_streams

pytestmark = pytest.mark.integration


async def test_streams_are_created_idempotently_with_explicit_limits(js: JetStreamContext) -> None:
    # given streams already created by the fixture, when created again
    await ensure_streams(js)
    # then the settings are the documented ones
    info = await js.stream_info(EVENTS_STREAM)
    assert info.config.storage == StorageType.FILE
    assert info.config.max_age == 0 and info.config.max_msgs == -1
    assert info.config.discard == DiscardPolicy.NEW
    assert info.config.deny_delete and info.config.deny_purge
    assert info.config.duplicate_window == 24 * 3600


async def test_republishing_the_same_event_id_stores_it_once(js: JetStreamContext) -> None:
    subject = "send.evt.v1.856.ehc.plan_issued.p_" + "a" * 32
    first = await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "evt-1"})
    again = await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "evt-1"})
    assert not first.duplicate and again.duplicate
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1


def test_server_stops_by_pid(nats_server: NatsServer) -> None:
    process = nats_server.process
    assert process is not None and process.poll() is None
    nats_server.stop()
    assert process.poll() is not None
