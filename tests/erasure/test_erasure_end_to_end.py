"""Erasing a child end to end: the LA and the ICB services, the live dataset and tracker read
models and a rebuild, on a real nats-server with real SQLite stores.

Story: Amelia is registered by LA 856 and by the ICB (QK1); the LA issues her an EHC plan, the
ICB flags the plan and records an autism diagnosis. A second child, Ben, has a plan too. Then the
LA erases Amelia (through `sendx erase`): what the LA shared about her reads as erased, what the
ICB shared is the ICB's to erase. Then the ICB erases her too (a partnership-wide erasure is each
organisation erasing its own). Her events stay on the stream and still verify; the counts stay;
her birth month and diagnosis are unreadable everywhere, live and rebuilt.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import Envelope, decode
from contracts.chain import chain_breaks
from projections.dataset.periods import Month
from projections.dataset.store import DatasetStore
from projections.dataset.tallies import exact_counts
from projections.reading.rebuild import rebuild
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.tracker.queries import statuses
from projections.tracker.store import TrackerStore
from runtime.bus.streams import EVENTS_STREAM, PERSON_KEYS_BUCKET, PERSON_KEYS_STREAM
from runtime.keystore import PersonKeyStore
from runtime.partnership import organisation
from runtime.settings import Settings
from sendx.cli import main as sendx
from services.domain.identity import person_key
from services.endpoint.client import ServiceClient
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = b"erasure-test-partnership-key"
AMELIA = {"nhs_number": "9434765919", "given_name": "Amelia", "family_name": "Okonkwo",
          "born_on": "2011-04-17"}
BEN = {"nhs_number": "4010232137", "given_name": "Ben", "family_name": "Harrow",
       "born_on": "2010-09-02"}
AMELIA_KEY = person_key(AMELIA["nhs_number"], KEY)
BEN_KEY = person_key(BEN["nhs_number"], KEY)
AS_OF = date(2025, 7, 1)
JUNE = Month(2025, 6)
FAST = ConsumerSettings(batch_size=64, fetch_timeout=0.2, retry_delay=0.1)


def plan_story(child: dict, case: str, plan: str) -> list[tuple[str, dict]]:
    nhs = child["nhs_number"]
    return [
        ("person.register", child),
        ("ehc.request_assessment", {"nhs_number": nhs, "case_id": case,
                                    "requested_on": "2025-01-06", "requested_by": "parent"}),
        ("ehc.decide_assessment", {"case_id": case, "decided_on": "2025-02-10",
                                   "decision": "assess"}),
        ("ehc.issue_plan", {"case_id": case, "plan_id": plan, "issued_on": "2025-05-19",
                            "primary_need": "ASD", "placement": "mainstream"}),
    ]


ICB_STORY = [
    ("person.register", AMELIA),
    ("health.make_referral", {"nhs_number": AMELIA["nhs_number"], "referral_id": "QK1-R-1",
                              "referred_on": "2024-06-03", "pathway": "neurodevelopmental"}),
    ("health.start_assessment", {"referral_id": "QK1-R-1", "started_on": "2024-11-04"}),
    ("health.record_diagnosis", {"nhs_number": AMELIA["nhs_number"], "diagnosis_id": "QK1-D-1",
                                 "diagnosed_on": "2025-02-03", "condition": "autism",
                                 "referral_id": "QK1-R-1"}),
    ("health.set_ehc_plan_flag", {"nhs_number": AMELIA["nhs_number"], "set_on": "2025-05-30",
                                  "la_code": "856"}),
]


@dataclass
class Partnership:
    nc: Client
    js: JetStreamContext
    dataset: DatasetStore
    tracker: TrackerStore
    runners: list[ProjectionRunner]

    async def command(self, org: str, name: str, fields: dict) -> list[str]:
        reply = await ServiceClient(self.nc, org).command(name, fields)
        assert reply["ok"], reply
        return reply["event_ids"]

    async def settled(self, expected: int, timeout: float = 30.0) -> list:
        """Every message on the stream once `expected` are there and both read models caught up."""
        async def stored() -> int:
            count = (await self.js.stream_info(EVENTS_STREAM)).state.messages
            return count if count >= expected else 0

        last = await eventually(stored, timeout, what=f"{expected} events on the stream")
        await eventually(lambda: all(r.position >= last for r in self.runners), timeout,
                         what=f"both read models at {last}")
        return await messages(self.js)


async def messages(js: JetStreamContext, subject: str = "send.evt.>") -> list:
    sub = await js.pull_subscribe(subject, stream=EVENTS_STREAM, config=ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, mem_storage=True))
    found = []
    pending = (await sub.consumer_info()).num_pending
    while len(found) < pending:
        found += await sub.fetch(500, timeout=5)
    await sub.unsubscribe()
    return found


@pytest.fixture
async def partnership(
    nats_url: str, nc: Client, js: JetStreamContext, tmp_path: Path
) -> AsyncIterator[Partnership]:
    settings = Settings(data_dir=tmp_path / "stores", store="sqlite", partnership_key=KEY,
                        cipher_key=None)
    async with AsyncExitStack() as stack:
        for code in ("856", "QK1"):
            org = organisation(code)
            await stack.enter_async_context(OrganisationService(
                definition_for(org.kind), org, settings=settings, nats_url=nats_url,
                poll_interval=0.1, metrics_port=0,
            ))
        dataset, tracker = DatasetStore(tmp_path / "dataset.sqlite"), TrackerStore(
            tmp_path / "tracker.sqlite")
        runners = [ProjectionRunner(nc, "dataset", dataset, FAST),
                   ProjectionRunner(nc, "tracker", tracker, FAST)]
        tasks = [asyncio.create_task(r.run()) for r in runners]
        try:
            yield Partnership(nc, js, dataset, tracker, runners)
        finally:
            for runner in runners:
                runner.stop()
            await asyncio.gather(*tasks)
            dataset.close()
            tracker.close()


def amelia_in_tracker(tracker: TrackerStore) -> list:
    return [s for s in statuses(tracker, AS_OF)[1] if s.person_key == AMELIA_KEY]


def stored_bodies(store: DatasetStore | TrackerStore, person: str) -> list[dict]:
    with store.snapshot() as snapshot:
        rows = snapshot.query("SELECT body FROM person_events WHERE person_key = ?", [person])
    return [orjson.loads(body) for (body,) in rows]


async def test_erasing_a_child_keeps_the_history_and_the_counts_but_not_their_details(
    partnership: Partnership, nats_url: str, tmp_path: Path
) -> None:
    p = partnership
    # given Amelia's and Ben's stories told by the LA and the ICB, projected live
    published = 0
    for name, fields in plan_story(AMELIA, "856-C-1", "856-P-1") + plan_story(
        BEN, "856-C-2", "856-P-2"
    ):
        published += len(await p.command("856", name, fields))
    for name, fields in ICB_STORY:
        published += len(await p.command("QK1", name, fields))
    await p.settled(published)
    keys = PersonKeyStore(p.js)
    amelia_before = [decode(m.data, subject=m.subject, keys=await _with(keys, m))
                     for m in await messages(p.js, f"send.evt.v1.*.*.*.{AMELIA_KEY}")]
    # and her birth month and diagnosis are known to the read models and to her history
    assert [s.birth_month for s in amelia_in_tracker(p.tracker)] == ["2011-04"]
    assert {e.payload.birth_month for e in amelia_before if e.type == "person.registered"} == {
        "2011-04"}
    assert [e.payload.condition for e in amelia_before
            if e.type == "health.diagnosis_recorded"] == ["autism"]
    counts_before = exact_counts(p.dataset, "active-plans", JUNE, "856")
    assert counts_before == {"la_count": 2, "health_count": 1, "both": 1, "la_only": 1}

    # when the LA erases her through the CLI
    code = await asyncio.to_thread(sendx, [
        "erase", AMELIA["nhs_number"], "--org", "856", "--reason", "data_subject_request",
        "--on", "2025-06-20", "--nats", nats_url])
    assert code == 0
    await p.settled(published + 1)
    # then what the LA shared reads as erased, but the ICB's diagnosis and birth month are the
    # ICB's: she stays in the tracker by the birth month the ICB registered
    after_la = {(e.source_org, e.type): e for e in [
        decode(m.data, subject=m.subject, keys=await _with(PersonKeyStore(p.js), m))
        for m in await messages(p.js, f"send.evt.v1.*.*.*.{AMELIA_KEY}")]}
    assert after_la[("856", "person.registered")].payload.birth_month is None
    assert after_la[("QK1", "person.registered")].payload.birth_month == "2011-04"
    assert after_la[("QK1", "health.diagnosis_recorded")].payload.condition == "autism"
    assert [s.birth_month for s in amelia_in_tracker(p.tracker)] == ["2011-04"]
    assert await PersonKeyStore(p.js).erased("856", AMELIA_KEY)
    assert not await PersonKeyStore(p.js).erased("QK1", AMELIA_KEY)

    # when the ICB erases her too, and then, keeping its own record, records another diagnosis
    code = await asyncio.to_thread(sendx, [
        "erase", AMELIA["nhs_number"], "--org", "QK1", "--reason", "data_subject_request",
        "--on", "2025-06-21", "--nats", nats_url])
    assert code == 0
    await p.settled(published + 2)
    await p.command("QK1", "health.record_diagnosis", {
        "nhs_number": AMELIA["nhs_number"], "diagnosis_id": "QK1-D-2", "diagnosed_on": "2025-06-25",
        "condition": "adhd", "no_referral_reason": "historic_record"})
    everything = await p.settled(published + 3)

    # then (1) every message about her is still there and decodes, her details erased
    fresh = PersonKeyStore(p.js)
    amelia = [m for m in everything if m.subject.endswith(AMELIA_KEY)]
    decoded = [decode(m.data, subject=m.subject, keys=await _with(fresh, m)) for m in amelia]
    assert [e.event_id for e in decoded][: len(amelia_before)] == [
        e.event_id for e in amelia_before]
    assert [e.type for e in decoded][-3:] == [
        "person.erased", "person.erased", "health.diagnosis_recorded"]
    personal = [e for e in decoded if e.type in ("person.registered", "health.diagnosis_recorded")]
    assert len(personal) == 4
    assert all(e.erased for e in personal)
    assert {e.payload.birth_month for e in personal if e.type == "person.registered"} == {None}
    assert {e.payload.condition for e in personal if e.type != "person.registered"} == {None}
    assert decoded[-1].payload.diagnosed_on == date(2025, 6, 25)  # process facts stay in clear
    # and Ben's details are untouched
    ben = [decode(m.data, subject=m.subject, keys=await _with(fresh, m))
           for m in everything if m.subject.endswith(BEN_KEY)]
    assert [e.payload.birth_month for e in ben if e.type == "person.registered"] == ["2010-09"]

    # (2) each organisation's hash chain over the stored bytes still verifies
    by_source: dict[str, list[tuple[bytes, Envelope]]] = defaultdict(list)
    for m in everything:
        by_source[decode(m.data).source_org].append((m.data, decode(m.data)))
    assert set(by_source) == {"856", "QK1"}
    assert all(chain_breaks(pairs) == [] for pairs in by_source.values())

    # (3) the counts that need no personal field are unchanged
    assert exact_counts(p.dataset, "active-plans", JUNE, "856") == counts_before

    # (4) the live read models forgot her details and the tracker no longer lists her ...
    assert amelia_in_tracker(p.tracker) == []
    assert [s.person_key for s in statuses(p.tracker, AS_OF)[1]] == [BEN_KEY]
    for body in stored_bodies(p.dataset, AMELIA_KEY) + stored_bodies(p.tracker, AMELIA_KEY):
        assert "birth_month" not in body["payload"] and "condition" not in body["payload"]
    # ... exactly as a rebuild from the stream made now shows
    for live, name in ((p.dataset, "dataset"), (p.tracker, "tracker")):
        opened = DatasetStore if name == "dataset" else TrackerStore
        rebuilt = opened(tmp_path / f"rebuilt-{name}.sqlite")
        try:
            await rebuild(p.nc, rebuilt)
            assert rebuilt.facts() == live.facts()
            assert stored_bodies(rebuilt, AMELIA_KEY) == stored_bodies(live, AMELIA_KEY)
        finally:
            rebuilt.close()

    # (5) both organisations' keys for her are gone, no revision left, none minted again
    for org in ("856", "QK1"):
        assert await fresh.erased(org, AMELIA_KEY)
        subject = f"$KV.{PERSON_KEYS_BUCKET}.{org}.{AMELIA_KEY}"
        info = await p.js.stream_info(PERSON_KEYS_STREAM, subjects_filter=subject)
        assert info.state.subjects == {subject: 1}
        assert (await p.js.get_last_msg(PERSON_KEYS_STREAM, subject)).data in (b"", None)

    # (6) no identifier, and none of her personal fields, ever travelled in clear
    for m in everything:
        for secret in (AMELIA["nhs_number"], "Amelia", "Okonkwo", AMELIA["born_on"], "2011-04",
                       "autism", "adhd", BEN["nhs_number"], "Harrow", "2010-09"):
            assert secret.encode() not in m.data, (m.subject, secret)


async def _with(keys: PersonKeyStore, msg) -> object:  # noqa: ANN001
    """The key lookup for one message, its publisher's key for the person fetched first."""
    parts = msg.subject.split(".")
    await keys.load([(parts[3], parts[-1])])
    return keys.cached
