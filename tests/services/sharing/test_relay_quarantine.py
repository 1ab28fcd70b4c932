"""An event the relay cannot publish never stops the organisation: it is quarantined in the
organisation's own store with the reason, later events go on, the chain links the published
events, and after a fix it is republished with the event id the partner was given."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from stories import PARTNERSHIP_KEY, person_fields

from contracts import decode
from contracts.chain import chain_breaks
from contracts.envelope import Envelope
from projections.audit.tamper import check_chains
from runtime.bus.streams import EVENTS_STREAM
from services.domain.identity import nhs_check_digit
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.la.translation import LaContract
from services.sharing.quarantine import QuarantineDesk, quarantine_for
from services.sharing.relay import Relay, Stamp

pytestmark = pytest.mark.integration


def nhs_numbers(count: int) -> list[str]:
    numbers: list[str] = []
    n = 0
    while len(numbers) < count:
        first_nine = f"999{n:06d}"
        n += 1
        check = nhs_check_digit(first_nine)
        if check is not None:
            numbers.append(f"{first_nine}{check}")
    return numbers


def register(app: LaApplication, count: int) -> list[str]:
    """`count` registrations; returns the event id each command's reply promised."""
    promised = []
    for nhs in nhs_numbers(count):
        outcome = app.execute(LA_CATALOGUE.parse("person.register", person_fields(nhs)))
        promised += [str(i) for i in outcome.event_ids]
    return promised


class Faulty:
    """The LA's translator with a bug for one stored event until `fixed`."""

    def __init__(self, app: LaApplication, broken: UUID) -> None:
        self.real = LaContract(app, PARTNERSHIP_KEY)
        self.broken, self.fixed = broken, False

    def __call__(self, event: Any, stamp: Stamp) -> Envelope | None:
        envelope = self.real(event, stamp)
        if not self.fixed and stamp.event_id == self.broken:
            raise ValueError("birth_month: String should match pattern")
        return envelope


async def stream(js: JetStreamContext) -> list[tuple[bytes, Envelope]]:
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    messages = [await js.get_msg(EVENTS_STREAM, seq) for seq in range(1, count + 1)]
    return [(m.data, decode(m.data, subject=m.subject)) for m in messages]


def faulty_relay(app: LaApplication, js: JetStreamContext, promised: list[str], bad: int,
                 **options: Any) -> tuple[Relay, Faulty]:
    """A relay whose translator cannot share the `bad`-th promised event."""
    translate = Faulty(app, UUID(promised[bad]))
    return Relay(app, app.org, translate, js, **options), translate


async def test_an_unpublishable_event_is_quarantined_and_later_events_go_on(
    la_app: LaApplication, js: JetStreamContext, nc: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # given an LA that stored five registrations, the third of which its translator refuses
    promised = register(la_app, 5)
    relay, _ = faulty_relay(la_app, js, promised, 2)
    # when the relay catches up
    with caplog.at_level(logging.ERROR, logger="services.sharing.relay"):
        published = await relay.publish_pending()
    # then the four others are published, in order, chained over the gap
    messages = await stream(js)
    assert published == 4
    assert [str(e.event_id) for _, e in messages] == promised[:2] + promised[3:]
    assert chain_breaks(messages) == []
    assert (await check_chains(nc)).intact
    # and the third is quarantined in the LA's own store with the reason, and logged once
    (entry,) = quarantine_for(la_app).entries()
    assert entry.event_id == promised[2] and entry.open
    assert "birth_month: String should match pattern" in entry.reason
    logged = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(logged) == 1 and f"stored event {entry.notification_id} " in logged[0]
    assert "sendx quarantine republish --org 856" in logged[0]
    # and the checkpoint moved past it: a new event is published at once
    register(la_app, 6)
    assert await relay.publish_pending() == 1


async def test_a_quarantined_event_is_republished_after_the_fix_with_its_promised_id(
    la_app: LaApplication, js: JetStreamContext, nc: Client
) -> None:
    # given a quarantined registration
    promised = register(la_app, 3)
    relay, translate = faulty_relay(la_app, js, promised, 1)
    await relay.publish_pending()
    (entry,) = quarantine_for(la_app).entries()
    desk = QuarantineDesk(la_app, relay.quarantine, "856")
    # when the translator is fixed and the operator asks for it to be republished
    translate.fixed = True
    assert desk.answer("quarantine.republish", {"notification_id": entry.notification_id}) == {
        "ok": True, "released": [entry.notification_id]}
    # then a second request is refused while it waits for the relay
    again = desk.answer("quarantine.republish", {"notification_id": entry.notification_id})
    assert not again["ok"] and "already waiting to be republished" in again["error"]
    await relay.publish_pending()
    # then it is on the stream with the event id the partner was given, after the others,
    # and every audit check still passes (its position is the release's, in order)
    messages = await stream(js)
    assert [str(e.event_id) for _, e in messages] == [promised[0], promised[2], promised[1]]
    assert chain_breaks(messages) == [] and (await check_chains(nc)).intact
    assert messages[-1][1].source_position > messages[-2][1].source_position
    # and the quarantine shows it republished, so nothing is open any more
    assert relay.quarantine.open_count() == 0
    done = relay.quarantine.get(entry.notification_id)
    assert done is not None and done.republished_position == messages[-1][1].source_position
    refused = desk.answer("quarantine.republish", {"notification_id": entry.notification_id})
    assert not refused["ok"] and "already republished" in refused["error"]
    # and a restarted relay publishes it no second time
    assert await Relay(la_app, la_app.org, translate, js).publish_pending() == 0


async def test_a_republish_that_still_fails_stays_quarantined_with_the_new_reason(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    promised = register(la_app, 2)
    relay, _ = faulty_relay(la_app, js, promised, 0)
    await relay.publish_pending()
    desk = QuarantineDesk(la_app, relay.quarantine, "856")
    # when it is republished before the fix
    assert desk.answer("quarantine.republish", {"all": True})["released"] == [1]
    await relay.publish_pending()
    # then it is still quarantined, the attempt counted, and it may be asked for again
    (entry,) = relay.quarantine.entries()
    assert entry.attempts == 2 and entry.release_requested_at is None
    assert [str(e.event_id) for _, e in await stream(js)] == [promised[1]]
    assert desk.answer("quarantine.republish", {"notification_id": 1})["ok"]


async def test_an_event_too_large_for_the_bus_is_quarantined_not_retried_for_ever(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given a relay whose bus takes smaller messages than one event needs
    register(la_app, 2)
    relay = Relay(la_app, la_app.org, LaContract(la_app, PARTNERSHIP_KEY), js, max_bytes=100)
    # when it publishes, then nothing is held: both are quarantined saying why
    assert await relay.publish_pending() == 0
    reasons = [e.reason for e in relay.quarantine.entries()]
    assert len(reasons) == 2 and all("more than the 100 bytes" in r for r in reasons)
    assert relay.position.notification_id == la_app.recorder.max_notification_id()


def test_quarantine_requests_name_what_is_wrong(la_app: LaApplication) -> None:
    desk = QuarantineDesk(la_app, quarantine_for(la_app), "856")
    assert desk.answer("quarantine.list", {}) == {"ok": True, "open": 0, "events": []}
    missing = desk.answer("quarantine.show", {"notification_id": 7})
    assert missing == {"ok": False, "error": "no stored event 7 is quarantined by 856's relay"}
    bad = desk.answer("quarantine.republish", {"notification_id": "seven"})
    assert not bad["ok"] and "field notification_id" in bad["error"]
