"""Sealed personal fields in a feed: open for the recipient where its clause covers them
(`open_fields`), re-sealed under its own feed key, and shredded when either side erases the
person. Read as each recipient's client login on the secured bus."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from contracts.person import PersonErased
from contracts.sealing import open_feed_fields
from contracts.subjects import event_subject
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.feeds.publisher import FeedPublisher
from projections.feeds.store import PendingDelivery
from projections.serving.api import create_app
from projections.serving.deliveries import CourierLogin
from runtime.bus.credentials import credentials_for
from runtime.bus.streams import EVENTS_STREAM
from runtime.feedkeys import read_feed_key
from runtime.keystore import PersonKeyStore
from runtime.settings import Settings
from tests.projections.conftest import EventFactory
from tests.projections.feeds.feeds_harness import FeedBus, Received, Recipient, agreement_of
from tests.runtime.bus.conftest import Connect, SecuredBus

pytestmark = pytest.mark.integration

ON = date(2026, 3, 2)
F = EventFactory()
OPENED = "Sendx-Opened"
DIAGNOSES_OPENED_FOR_856 = """
id = "la-856-diagnoses"
recipient = "856"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "caseload"
caseload_from = ["ehc.assessment_requested"]
open_fields = ["condition"]
"""
DIAGNOSES_SEALED_FOR_855 = """
id = "la-855-diagnoses"
recipient = "855"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "everyone"
"""


async def what_it_reads(recipient: Recipient, delivery: Received) -> dict[str, object]:
    """What the recipient's own client opens of a delivery with its own feed key."""
    event = orjson.loads(delivery.data)
    key = await read_feed_key(recipient.principal.nc.jetstream(), recipient.org,
                              event["source_org"], event["person_key"])
    if key is None or OPENED not in delivery.headers:
        return {}
    return open_feed_fields(event, orjson.loads(delivery.headers[OPENED]), key, recipient.org)


async def test_the_la_reads_the_condition_its_clause_opens_and_no_other_la_does(
    bus: FeedBus, connect_as: Connect
) -> None:
    await bus.start(agreement_of(DIAGNOSES_OPENED_FOR_856, DIAGNOSES_SEALED_FOR_855))
    leicester, county = await bus.recipient("856"), await bus.recipient("855")
    await bus.publish(F.assessment_requested("amy", ON, la="856"))
    diagnosed = F.diagnosis("amy", ON, "autism", by="QK1")
    [seq] = await bus.publish(diagnosed, sealed=True)
    await bus.settle(leicester, county)
    [to_856], [to_855] = leicester.got, county.got
    # the LA whose clause opens the condition reads it with its own feed key
    assert await what_it_reads(leicester, to_856) == {"condition": "autism"}
    # the body is the stored event byte for byte, the condition sealed in it and in the header
    auditor = await connect_as("auditor")
    stored = (await auditor.nc.jetstream().get_msg(EVENTS_STREAM, seq)).data
    assert to_856.data == stored == to_855.data
    body = orjson.loads(to_856.data)
    assert "condition" not in body["payload"] and set(body["sealed"]) == {"condition"}
    assert "autism" not in to_856.headers[OPENED]
    # the other LA, whose clause opens nothing, has no opened field and no key to read one
    assert OPENED not in to_855.headers
    event = orjson.loads(to_855.data)
    assert await read_feed_key(county.principal.nc.jetstream(), "855", "QK1",
                               event["person_key"]) is None


async def test_a_restarted_publisher_opens_a_delivery_to_the_same_bytes(bus: FeedBus) -> None:
    await bus.start(agreement_of(DIAGNOSES_OPENED_FOR_856))
    leicester = await bus.recipient("856")
    await bus.publish(F.assessment_requested("bea", ON, la="856"))
    await bus.publish(F.diagnosis("bea", ON, by="QK1"), sealed=True)
    await bus.settle(leicester)
    [first] = leicester.got
    # a publisher with nothing cached (as after a crash before the delivery was marked)
    [record] = bus.store.deliveries(recipient="856")
    pending = PendingDelivery(record.recipient, record.event_id, record.clause_id,
                              record.agreement_id, record.seq,
                              event_subject("QK1", record.event_type, record.person_key))
    again = FeedPublisher(bus.feeder.nc, bus.store, agreement=bus.agreement)
    assert await again.opened(pending, first.data) == first.headers[OPENED]


async def test_the_sources_erasure_shreds_every_opened_copy_in_the_feed(bus: FeedBus) -> None:
    await bus.start(agreement_of(DIAGNOSES_OPENED_FOR_856))
    leicester = await bus.recipient("856")
    await bus.publish(F.assessment_requested("cal", ON, la="856"))
    await bus.publish(F.diagnosis("cal", ON, by="QK1"), sealed=True)
    await bus.settle(leicester)
    [delivery] = leicester.got
    assert await what_it_reads(leicester, delivery) == {"condition": "autism"}
    # when the ICB erases the child (its relay purges its own key and publishes person.erased)
    person = F.person("cal")
    await PersonKeyStore(bus.publishers["QK1"].nc.jetstream()).erase("QK1", person)
    erased = F.wrap(PersonErased(erased_on=ON, reason="data_subject_request"), "cal", "QK1", ON)
    await bus.publish(erased)
    await bus.settle(leicester)
    # then the copy the LA holds no longer opens: its feed key is gone
    assert await read_feed_key(leicester.principal.nc.jetstream(), "856", "QK1", person) is None
    assert await what_it_reads(leicester, delivery) == {}
    # and a later diagnosis it is still sent (the caseload stands) opens nothing
    await bus.publish(F.diagnosis("cal", ON, "adhd", by="QK1"))
    await bus.settle(leicester)
    assert OPENED not in leicester.got[-1].headers


async def test_the_recipients_own_erasure_shreds_what_was_opened_for_it(bus: FeedBus) -> None:
    await bus.start(agreement_of(DIAGNOSES_OPENED_FOR_856))
    leicester = await bus.recipient("856")
    await bus.publish(F.assessment_requested("dov", ON, la="856"))
    await bus.publish(F.diagnosis("dov", ON, by="QK1"), sealed=True)
    await bus.settle(leicester)
    [delivery] = leicester.got
    assert await what_it_reads(leicester, delivery) == {"condition": "autism"}
    erased = F.wrap(PersonErased(erased_on=ON, reason="data_subject_request"), "dov", "856", ON)
    await bus.publish(erased)
    await bus.settle(leicester)
    assert await what_it_reads(leicester, delivery) == {}
    # the ICB's own key is untouched: only what was opened for the LA is gone
    icb = PersonKeyStore(bus.publishers["QK1"].nc.jetstream())
    assert await icb.lookup("QK1", F.person("dov")) is not None


async def test_a_clause_opening_a_field_adopted_live_opens_it_from_then_on(bus: FeedBus) -> None:
    sealed_only = DIAGNOSES_OPENED_FOR_856.replace('open_fields = ["condition"]\n', "")
    await bus.start(agreement_of(sealed_only))
    leicester = await bus.recipient("856")
    await bus.publish(F.assessment_requested("eli", ON, la="856"))
    await bus.publish(F.diagnosis("eli", ON, "autism", by="QK1"), sealed=True)
    await bus.settle(leicester)
    assert OPENED not in leicester.got[0].headers
    # when the agreement now opens the condition (adopted while the feed runs)
    await bus.process.adopt(agreement_of(DIAGNOSES_OPENED_FOR_856))
    await bus.publish(F.diagnosis("eli", ON, "adhd", by="QK1"), sealed=True)
    await bus.settle(leicester)
    # then the next diagnosis opens for the LA; the earlier one stays as it was sent
    first, second = leicester.got
    assert OPENED not in first.headers
    assert await what_it_reads(leicester, second) == {"condition": "adhd"}


async def test_a_partner_replaying_its_feed_through_the_api_gets_the_opened_field(
    bus: FeedBus, secured_bus: SecuredBus, store, record,  # noqa: ANN001, F811
    tmp_path: Path,
) -> None:
    await bus.start(agreement_of(DIAGNOSES_OPENED_FOR_856, DIAGNOSES_SEALED_FOR_855))
    leicester, county = await bus.recipient("856"), await bus.recipient("855")
    asked = F.assessment_requested("dee", ON, la="856")
    record(asked)  # the read model the API's access rule consults: 856 mentions her
    await bus.publish(asked)
    await bus.publish(F.diagnosis("dee", ON, "adhd", by="QK1"), sealed=True)
    await bus.settle(leicester, county)
    # given the API as `sendx run` starts it, its delivery routes on the courier's login
    courier = credentials_for("courier", secured_bus.data_dir)
    login = CourierLogin.configured(Settings(
        nats_url=secured_bus.server.url, courier_nats_user=courier["user"],
        courier_nats_password=courier["password"]))
    registry = TokenRegistry([
        TokenEntry(name="leicester", sha256=hash_token("t-856"), role="partner", org="856"),
        TokenEntry(name="county", sha256=hash_token("t-855"), role="partner", org="855"),
    ])
    log = AccessLog(tmp_path / "access-log.sqlite")
    app = create_app(store, access=AccessControl(registry, log, store), deliveries_bus=login)

    def replay(token: str) -> list[dict[str, object]]:
        with TestClient(app) as api:
            page = api.get("/api/deliveries/feed", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200, page.text
        return [e["event"] for e in page.json()["events"]]

    # when Leicester (whose clause opens the condition) replays its feed from the start
    [diagnosis] = await asyncio.to_thread(replay, "t-856")
    log.close()
    # then it reads the condition in clear, as its webhook would post it
    data = diagnosis["data"]
    assert data["payload"]["condition"] == "adhd"
    assert "condition" not in (data.get("sealed") or {})
    assert diagnosis["sendxopened"] == "condition"
