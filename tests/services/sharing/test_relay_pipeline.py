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
from contracts.chain import bytes_hash
from contracts.subjects import event_subject, org_events
from runtime.bus.streams import EVENTS_STREAM
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


async def test_an_event_jetstream_refuses_is_overtaken_by_none_sent_after_it_and_a_restart_fills_it(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events, and a JetStream that refuses the 6th while later batches are sent
    record_stories(la_app, 4)
    refusing = RefusingJetStream(js, refuse=6)
    # when the relay publishes with batches of 3, two in flight
    with pytest.raises(RelayError, match="JetStream did not store an event"):
        await relay(la_app, refusing, batch_size=3, in_flight=2).publish_pending()  # type: ignore[arg-type]
    # then events after the refused one were sent to the server, but none of them was stored:
    # the stream holds the five before it, and the checkpoint is after the fifth
    assert refusing.refused is not None and refusing.published > refusing.refuse
    refused = decode(refusing.refused)
    stored = await stream(js)
    assert [e.source_position for _, e, _ in stored] == sorted(
        e.source_position for _, e, _ in stored
    )
    assert len(stored) == 5 and all(e.source_position < refused.source_position
                                    for _, e, _ in stored)
    checkpoint = checkpoint_for(la_app).load()
    assert checkpoint.notification_id < refused.source_position
    assert checkpoint.last_hash == bytes_hash(stored[-1][0])
    # when a restarted relay publishes from the checkpoint
    await relay(la_app, js, batch_size=3, in_flight=2).publish_pending()
    # then the gap is filled in the organisation's order: the chain verifies in stream order
    assert_complete_chain(await stream(js), 16)


class LostEvent(JetStreamStandIn):
    """The real JetStream, except that the `lose`-th event never reaches the server (a leader
    crash) and nothing answers for it, while the later ones are published as usual."""

    def __init__(self, js: JetStreamContext, lose: int) -> None:
        super().__init__(js)
        self.lose, self.published = lose, 0

    async def publish_async(self, subject: str, payload: bytes, **options: Any) -> Any:
        self.published += 1
        if self.published == self.lose:
            return asyncio.get_running_loop().create_future()  # never acknowledged
        return await self.js.publish_async(subject, payload, **options)


async def test_an_event_lost_on_the_way_is_overtaken_by_none_and_the_next_round_resends_it(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events, and a bus that loses the 4th while later batches are sent
    record_stories(la_app, 4)
    losing = LostEvent(js, lose=4)
    lossy = relay(la_app, losing, batch_size=3, in_flight=3, ack_timeout=1.0)  # type: ignore[arg-type]
    # when the relay publishes, its ack times out
    with pytest.raises(RelayError, match="no acknowledgement"):
        await lossy.publish_pending()
    # then only the three before it are stored, in order
    assert losing.published > 4
    assert [e.source_position for _, e, _ in await stream(js)] == [
        e.source_position for _, e, _ in (await stream(js))[:3]
    ]
    assert len(await stream(js)) == 3
    # and the same relay's next round fills it in order
    assert await lossy.publish_pending() == 13
    assert_complete_chain(await stream(js), 16)


class Interleaving(JetStreamStandIn):
    """The real JetStream, with another organisation's event stored just before some of ours
    (as when several organisations' relays publish at once)."""

    def __init__(self, js: JetStreamContext, before: set[int]) -> None:
        super().__init__(js)
        self.before, self.published = before, 0

    async def publish_async(self, subject: str, payload: bytes, **options: Any) -> Any:
        self.published += 1
        if self.published in self.before:
            other = event_subject("873", "health.referral_made", "P" + "0" * 15)
            await self.js.publish(other, b"another organisation's event", stream=EVENTS_STREAM)
        return await self.js.publish_async(subject, payload, **options)


async def test_another_organisations_events_between_ours_only_make_the_relay_resend_at_once(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events, and another organisation publishing while they are in flight
    record_stories(la_app, 4)
    busy = Interleaving(js, before={4, 9, 10})
    # when the relay publishes with batches of 3, two in flight
    published = await relay(la_app, busy, batch_size=3, in_flight=2).publish_pending()  # type: ignore[arg-type]
    # then it published all of ours (without waiting for a poll), once, in the log's order and
    # chained, with the other organisation's three events between them
    assert published == 16
    assert busy.published > 16  # the refused ones were resent
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    subjects = [(await js.get_msg(EVENTS_STREAM, seq)).subject for seq in range(1, count + 1)]
    assert sum(not s.startswith(org_events("856")[:-1]) for s in subjects) == 3
    ours = [m for m in await own_stream(js, "856")]
    assert_complete_chain(ours, 16)


async def own_stream(js: JetStreamContext, org: str) -> list[tuple[bytes, Any, dict[str, str]]]:
    """`org`'s messages in SEND_EVENTS, in stream order, decoded."""
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    messages = [await js.get_msg(EVENTS_STREAM, seq) for seq in range(1, count + 1)]
    prefix = org_events(org)[:-1]
    return [(m.data, decode(m.data, subject=m.subject), m.headers or {})
            for m in messages if m.subject.startswith(prefix)]


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
