"""The relay keeps several batches in flight and still shares each event once, chained, with the
checkpoint only ever at an acknowledged prefix; an erasure waits for everything before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.errors import APIError
from stories import NHS_NUMBER
from test_relay import assert_complete_chain, record_stories, relay, stream

from contracts import decode
from contracts.chain import bytes_hash, chain_breaks
from runtime.keystore import PersonKeyStore
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.sharing.checkpoint import Position, checkpoint_for
from services.sharing.relay import Relay, RelayError
from services.sharing.stream_order import deliver_refusals

pytestmark = pytest.mark.integration


class JetStreamStandIn:
    """The real JetStream; subclasses change how `publish_async` answers."""

    def __init__(self, js: JetStreamContext) -> None:
        deliver_refusals(js)
        self.js = js

    def __getattr__(self, name: str) -> Any:
        return getattr(self.js, name)


class RefusingJetStream(JetStreamStandIn):
    """The real JetStream, except that the `refuse`-th event published is never stored."""

    def __init__(self, js: JetStreamContext, refuse: int) -> None:
        super().__init__(js)
        self.refuse, self.published = refuse, 0
        self.refused: bytes | None = None

    async def publish_async(self, subject: str, payload: bytes, **options: Any) -> Any:
        self.published += 1
        if self.published == self.refuse:
            self.refused = payload
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(APIError(description="insufficient resources"))
            return failed
        return await self.js.publish_async(subject, payload, **options)


async def test_many_batches_in_flight_publish_every_event_once_and_checkpoint_the_last(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given four children's stories: 16 shared events among unshared plan indexes
    record_stories(la_app, 4)
    # when a relay with tiny batches, three of them awaiting acks at a time, catches up
    published = await relay(la_app, js, batch_size=2, in_flight=3).publish_pending()
    # then every event is on the stream once, in order, chained
    messages = await stream(js)
    assert published == 16
    assert_complete_chain(messages, 16)
    # and the checkpoint is the end of the log, with the hash the next event will chain on
    last = la_app.recorder.max_notification_id()
    assert checkpoint_for(la_app).load() == Position(last, bytes_hash(messages[-1][0]))


class SlowAcks(JetStreamStandIn):
    """The real JetStream, acknowledging each event 50 ms late; notes how many were unanswered
    whenever another was published."""

    def __init__(self, js: JetStreamContext) -> None:
        super().__init__(js)
        self.waiting, self.most_waiting = 0, 0

    async def publish_async(self, subject: str, payload: bytes, **options: Any) -> Any:
        self.most_waiting = max(self.most_waiting, self.waiting)
        self.waiting += 1
        real = await self.js.publish_async(subject, payload, **options)
        late = asyncio.get_running_loop().create_future()

        async def answer() -> None:
            await asyncio.sleep(0.05)
            self.waiting -= 1
            late.set_result(await real)

        asyncio.get_running_loop().create_task(answer())
        return late


async def test_the_next_batches_are_sent_while_the_acks_of_earlier_ones_come_back(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events and a JetStream slow to acknowledge
    record_stories(la_app, 4)
    slow = SlowAcks(js)
    # when a relay with batches of 2, two awaiting acks at a time, publishes them
    published = await relay(la_app, slow, batch_size=2, in_flight=2).publish_pending()  # type: ignore[arg-type]
    # then more than one batch was unanswered at once, and everything arrived once, in order
    assert published == 16
    assert slow.most_waiting > 2
    assert_complete_chain(await stream(js), 16)


async def test_an_event_jetstream_refuses_stops_the_checkpoint_before_it_and_a_restart_fills_it(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events, and a JetStream that refuses the 6th while later batches are sent
    record_stories(la_app, 4)
    refusing = RefusingJetStream(js, refuse=6)
    # when the relay publishes with batches of 3, two in flight
    with pytest.raises(RelayError, match="JetStream did not store an event"):
        await relay(la_app, refusing, batch_size=3, in_flight=2).publish_pending()  # type: ignore[arg-type]
    # then the checkpoint is before the refused event, after the five stored before it
    assert refusing.refused is not None
    refused = decode(refusing.refused)
    stored = {e.event_id: (body, e) for body, e, _ in await stream(js)}
    checkpoint = checkpoint_for(la_app).load()
    assert checkpoint.notification_id < refused.source_position
    fifth = sorted(stored.values(), key=lambda m: m[1].source_position)[4]
    assert checkpoint.last_hash == bytes_hash(fifth[0])
    # when a restarted relay publishes from the checkpoint
    await relay(la_app, js, batch_size=3, in_flight=2).publish_pending()
    # then the gap is filled and nothing is doubled (the stream dropped the republished ids)
    messages = await stream(js)
    assert len(messages) == len({e.event_id for _, e, _ in messages}) == 16
    in_log_order = sorted(
        ((body, e) for body, e, _ in messages), key=lambda m: m[1].source_position
    )
    assert chain_breaks(in_log_order) == []
    assert in_log_order[0][1].prev_hash is None


class WatchedKeys(PersonKeyStore):
    """The real key store, noting how far the relay had checkpointed when a key was erased."""

    relay: Relay
    at_erasure: list[Position]

    async def erase(self, org: str, person_key: str) -> None:
        self.at_erasure.append(checkpoint_for(self.relay.app).load())
        await super().erase(org, person_key)


async def test_an_erasure_waits_until_every_batch_before_it_is_acknowledged(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given three stories, the first child erased, and then a second child's further event
    record_stories(la_app, 3)
    erase = {"nhs_number": NHS_NUMBER, "erased_on": "2026-01-05", "reason": "data_subject_request"}
    la_app.execute(LA_CATALOGUE.parse("person.erase", erase))
    erased_at = la_app.recorder.max_notification_id()
    worker = {
        "nhs_number": "4010232137",
        "assigned_on": "2026-02-01",
        "worker_role": "send_officer",
    }
    la_app.execute(LA_CATALOGUE.parse("transition.assign_named_worker", worker))
    # when a relay with small batches, several in flight, publishes it all
    keys = WatchedKeys(js)
    keys.at_erasure = []
    keys.relay = relay(la_app, js, batch_size=2, in_flight=3, keys=keys)
    published = await keys.relay.publish_pending()
    # then the key was deleted only once everything before the erasure was checkpointed
    assert [p.notification_id for p in keys.at_erasure] == [erased_at - 1]
    # and every event is shared once, chained, the later child's event after it
    assert published == 14
    assert_complete_chain(await stream(js), 14)
