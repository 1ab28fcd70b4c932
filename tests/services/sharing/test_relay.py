"""The relay shares each stored event once, in order, chained, and survives being killed."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js import JetStreamContext
from stories import PARTNERSHIP_KEY, story

from contracts import decode
from contracts.chain import bytes_hash, chain_breaks
from contracts.envelope import Envelope
from contracts.health import ReferralMade
from runtime.bus.streams import EVENTS_STREAM
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.la.translation import LaContract
from services.sharing.checkpoint import Position, checkpoint_for
from services.sharing.quarantine import quarantine_for
from services.sharing.relay import Relay, Stamp

pytestmark = pytest.mark.integration


def record_stories(app: LaApplication, children: int) -> None:
    """`children` EHC stories: 4 shared events each (plus an unshared plan index)."""
    for n in range(children):
        nhs = ["9434765919", "4010232137", "9990000018", "9990000026"][n]
        for name, fields in story(case=f"856-C-{n}", plan=f"856-P-{n}", nhs_number=nhs):
            app.execute(LA_CATALOGUE.parse(name, fields))


def relay(app: LaApplication, js: JetStreamContext, **options: Any) -> Relay:
    return Relay(app, app.org, LaContract(app, PARTNERSHIP_KEY), js, **options)


async def stream(js: JetStreamContext) -> list[tuple[bytes, Envelope, dict[str, str]]]:
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    messages = [await js.get_msg(EVENTS_STREAM, seq) for seq in range(1, count + 1)]
    return [(m.data, decode(m.data, subject=m.subject), m.headers or {}) for m in messages]


def assert_complete_chain(
    messages: list[tuple[bytes, Envelope, dict[str, str]]], expected: int
) -> None:
    envelopes = [e for _, e, _ in messages]
    assert len(envelopes) == expected
    assert len({e.event_id for e in envelopes}) == expected
    positions = [e.source_position for e in envelopes]
    assert positions == sorted(positions)
    assert envelopes[0].prev_hash is None
    assert chain_breaks([(body, e) for body, e, _ in messages]) == []


async def test_published_events_carry_their_id_position_and_chain(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given two children's stories stored by the LA
    record_stories(la_app, 2)
    # when the relay catches up
    published = await relay(la_app, js).publish_pending()
    # then 8 events are on the stream, each with Nats-Msg-Id = event id, chained in order
    messages = await stream(js)
    assert published == 8
    assert_complete_chain(messages, 8)
    assert all(h["Nats-Msg-Id"] == str(e.event_id) for _, e, h in messages)
    assert {e.source_org for _, e, _ in messages} == {"856"}


async def test_a_relay_stopped_after_some_batches_resumes_without_loss_or_duplicates(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given 16 shared events (and unshared index events between them)
    record_stories(la_app, 4)
    # when a relay publishes two small batches and is then dropped, as if killed
    first = relay(la_app, js, batch_size=3)
    await first.publish_batch()
    await first.publish_batch()
    partly = len(await stream(js))
    # and a new relay starts from the durable checkpoint
    await relay(la_app, js, batch_size=3).publish_pending()
    # then every event is there exactly once, in order, chained across the restart
    assert 0 < partly < 16
    assert_complete_chain(await stream(js), 16)


class CrashingCheckpoint:
    """The real checkpoint, except the process dies right after JetStream acknowledged a
    batch; the first save (the relay's first event, sent alone to learn where the
    organisation's events end in the stream) is recorded."""

    def __init__(self, real: Any) -> None:
        self.real, self.saves = real, 0

    def load(self) -> Position:
        return self.real.load()

    def save(self, position: Position) -> None:
        self.saves += 1
        if self.saves > 1:
            raise SystemExit("killed after publish, before recording")
        self.real.save(position)


async def test_a_crash_after_publishing_but_before_recording_duplicates_nothing(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given a relay that dies between the acknowledgement and the checkpoint write
    record_stories(la_app, 2)
    crashing = relay(la_app, js, checkpoint=CrashingCheckpoint(checkpoint_for(la_app)))
    with pytest.raises(SystemExit):
        await crashing.publish_pending()
    assert len(await stream(js)) == 8
    # when the restarted relay republishes the same batch
    await relay(la_app, js).publish_pending()
    # then the stream deduplicated it (same event ids, same bytes) and the chain holds
    assert_complete_chain(await stream(js), 8)
    assert checkpoint_for(la_app).load().last_hash == bytes_hash((await stream(js))[-1][0])


async def test_new_events_after_a_restart_continue_the_chain(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    record_stories(la_app, 1)
    await relay(la_app, js).publish_pending()
    second_child = story(case="856-C-1", plan="856-P-1", nhs_number="4010232137")
    for name, fields in second_child:
        la_app.execute(LA_CATALOGUE.parse(name, fields))
    await relay(la_app, js).publish_pending()
    assert_complete_chain(await stream(js), 8)


async def test_an_event_type_outside_the_topology_is_never_published(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given an LA translator that (wrongly) produces a health event
    record_stories(la_app, 1)

    def rogue(event: Any, stamp: Stamp) -> Envelope:
        payload = ReferralMade(referral_id="R1", referred_on="2025-01-01", pathway="slt")
        return stamp.wrap(payload, person_key="p_" + "0" * 32, occurred_at=event.timestamp)

    # when the relay runs
    published = await Relay(la_app, la_app.org, rogue, js).publish_pending()
    # then nothing was published: every event is quarantined with the rule it breaks
    assert published == 0 and await stream(js) == []
    quarantined = quarantine_for(la_app).entries()
    assert len(quarantined) == 5  # the rogue shares even the plan index
    assert all(
        "TopologyViolation: organisation 856 (la) may not publish health.referral_made" in q.reason
        for q in quarantined
    )


async def test_publishing_as_another_organisation_is_refused(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    record_stories(la_app, 1)
    translate = LaContract(la_app, PARTNERSHIP_KEY)

    def as_rutland(event: Any, stamp: Stamp) -> Envelope | None:
        envelope = translate(event, stamp)
        return envelope and envelope.model_copy(update={"source_org": "857"})

    assert await Relay(la_app, la_app.org, as_rutland, js).publish_pending() == 0
    assert await stream(js) == []
    (first, *_) = quarantine_for(la_app).entries()
    assert "organisation 856 tried to publish person.registered as source_org 857" in first.reason
