"""A partner that publishes around its relay, with its own service login, on the secured bus
(the generated permissions): the projections dead-letter what its kind may not publish, never
apply it, and `sendx audit chain` names that event rather than the partner's next genuine one.
A partner's claims about a person never overwrite or erase another organisation's.

Story: LA 856 registers Jay (born March 2005) and issues him a plan. The school (120001), with
its service login, publishes an `ehc.plan_issued` of its own for him, then re-registers him as
born in 2016, then publishes `person.erased`. Then the school's relay publishes its genuine
first event, and its second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from nats.js import JetStreamContext

from contracts import Envelope, encode
from contracts.chain import bytes_hash
from contracts.person import PersonErased
from contracts.sealing import personal_fields, seal
from contracts.subjects import event_subject
from projections.dataset.store import DatasetStore
from projections.deadletter_queue import dead_letters, retry_dead_letter, show_dead_letter
from projections.reading.runner import ProjectionRunner
from projections.serving.api import create_app
from projections.tracker.queries import statuses
from projections.tracker.store import TrackerStore
from runtime.bus.streams import EVENTS_STREAM
from runtime.keystore import PersonKeyStore
from tests.projections.audit.conftest import run_sendx_audit
from tests.projections.conftest import FAST, EventFactory
from tests.runtime.bus.conftest import Connect, SecuredBus
from tests.waiting import eventually

pytestmark = pytest.mark.integration

EVENTS = EventFactory()
JAY = EVENTS.person("jay")
AS_OF = date(2025, 6, 1)


@dataclass
class Source:
    """An organisation publishing with its service login, chaining as its relay does."""

    org: str
    js: JetStreamContext
    position: int = 0
    last_hash: str | None = None
    seqs: list[int] = field(default_factory=list)

    async def publish(self, envelope: Envelope, *, chained: bool = True) -> int:
        """Seal, chain and publish; `chained=False`: published around the relay, starting a
        chain of its own (as a forger with the login but not the relay's checkpoint does)."""
        if personal_fields(envelope.payload):
            key = await PersonKeyStore(self.js).key_for(self.org, envelope.person_key)
            assert key is not None
            envelope = seal(envelope, key)
        position = self.position + 1 if chained else 1
        envelope = envelope.model_copy(update={
            "source_position": position, "prev_hash": self.last_hash if chained else None})
        body = encode(envelope)
        ack = await self.js.publish(
            event_subject(self.org, envelope.type, envelope.person_key), body,
            headers={"Nats-Msg-Id": str(envelope.event_id)},
        )
        if chained:
            self.position, self.last_hash = position, bytes_hash(body)
        self.seqs.append(ack.seq)
        return ack.seq


@dataclass
class Projected:
    dataset: DatasetStore
    tracker: TrackerStore
    runners: list[ProjectionRunner]

    async def caught_up(self, js: JetStreamContext, timeout: float = 15.0) -> None:
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        await eventually(lambda: all(r.position >= last for r in self.runners), timeout,
                         what="all(r.position >= last for r in self.runners)")


@pytest.fixture
async def projected(connect_as: Connect, tmp_path: Path) -> AsyncIterator[Projected]:
    """The dataset and the tracker, projected live as the projector user."""
    projector = await connect_as("projector")
    dataset, tracker = DatasetStore(tmp_path / "dataset.sqlite"), TrackerStore(
        tmp_path / "tracker.sqlite")
    runners = [ProjectionRunner(projector.nc, "dataset", dataset, FAST),
               ProjectionRunner(projector.nc, "tracker", tracker, FAST)]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield Projected(dataset, tracker, runners)
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.gather(*tasks)
        dataset.close()
        tracker.close()


async def audit_chain(
    secured_bus: SecuredBus, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> tuple[int, list[str]]:
    """`sendx audit chain` beside the embedded server with no NATS user set (so it logs in as
    `auditor` from the data directory): its exit status and its finding lines."""
    monkeypatch.setenv("SENDX_DATA_DIR", str(secured_bus.data_dir))
    for name in ("SENDX_NATS_USER", "SENDX_NATS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    status = await run_sendx_audit("chain", "--nats", secured_bus.server.url)
    out = capsys.readouterr().out
    return status, [line.strip() for line in out.splitlines() if ": source " in line]


async def test_a_schools_forged_plan_is_dead_lettered_and_its_claims_overwrite_nothing(
    connect_as: Connect, secured_bus: SecuredBus, projected: Projected,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    la = Source("856", (await connect_as("856")).nc.jetstream())
    school = Source("120001", (await connect_as("120001")).nc.jetstream())
    admin = (await connect_as("admin")).nc.jetstream()
    # given LA 856's registration of Jay and his plan
    await la.publish(EVENTS.registered("jay", "2005-03", by="856"))
    await la.publish(EVENTS.plan_issued("jay", date(2019, 9, 2), plan="856-P-1"))
    # when the school, with its own login, publishes a plan of its own for him (the server lets
    # it: the subject is under its own prefix), re-registers him as born in 2016 and erases him
    forged = await school.publish(
        EVENTS.plan_issued("jay", date(2024, 1, 8), la="120001", plan="X-1"), chained=False)
    await school.publish(EVENTS.registered("jay", "2016-01", by="120001"))
    await school.publish(EVENTS.wrap(
        PersonErased(erased_on=date(2025, 1, 6), reason="other"), "jay", "120001",
        date(2025, 1, 6)))
    await projected.caught_up(admin)

    # then the forged plan is dead-lettered with the rule it broke, and in no read model
    letters = await dead_letters(admin)
    assert [(d.reason, d.original_sequence) for d in letters] == [("not_permitted", forged)]
    assert letters[0].error.startswith(
        "ehc.plan_issued from 120001: a provider may not publish it")
    with projected.dataset.snapshot() as snapshot:
        assert [(p.la_code, p.plan_id) for p in snapshot.rows("ehc_plans")] == [("856", "856-P-1")]
    # and a retry refuses it again for the same reason
    retried = await retry_dead_letter(
        (await connect_as("retrier")).nc.jetstream(), letters[0].seq, retried_by="test")
    assert retried.result == "refused" and "a provider may not publish it" in retried.detail
    # the school's registration and erasure are its own claims: Jay keeps the birth month his
    # responsible LA registered, and stays in the transition tracker
    jay = [s for s in statuses(projected.tracker, AS_OF)[1] if s.person_key == JAY]
    assert [(s.birth_month, s.la_code) for s in jay] == [("2005-03", "856")]

    # and the disagreement is shown as a data-quality discrepancy until the school erased its
    # claim: afterwards only the LA's registration has a birth month, so nothing disagrees
    api = TestClient(create_app(projected.dataset))
    answer = api.get("/api/data-quality/birth-months").json()
    assert answer["people"] == []
    assert "responsible LA" in answer["rule"]

    # when the auditor checks the chains
    status, findings = await audit_chain(secured_bus, monkeypatch, capsys)
    # then the forgery is named by its stream sequence and source, and nothing else is blamed
    assert status == 1
    assert len(findings) == 1, findings
    assert findings[0].startswith(
        f"not_permitted: source 120001 position 1, stream sequence {forged}")


async def test_a_birth_month_another_organisation_disagrees_with_is_a_discrepancy(
    connect_as: Connect, projected: Projected,
) -> None:
    la = Source("856", (await connect_as("856")).nc.jetstream())
    school = Source("120001", (await connect_as("120001")).nc.jetstream())
    admin = (await connect_as("admin")).nc.jetstream()
    # given LA 856's registration and plan, and the school's registration with another birth
    # month, the school's arriving first
    await school.publish(EVENTS.registered("jay", "2016-01", by="120001"))
    await la.publish(EVENTS.registered("jay", "2005-03", by="856"))
    await la.publish(EVENTS.plan_issued("jay", date(2019, 9, 2), plan="856-P-1"))
    await projected.caught_up(admin)
    # then the tracker takes the responsible LA's birth month, whatever arrived first
    jay = [s for s in statuses(projected.tracker, AS_OF)[1] if s.person_key == JAY]
    assert [s.birth_month for s in jay] == ["2005-03"]
    # and the dataset API shows who disagrees, for whom
    answer = TestClient(create_app(projected.dataset)).get(
        "/api/data-quality/birth-months").json()
    assert answer["people"] == [{"person_key": JAY, "registrations": [
        {"org": "120001", "birth_month": "2016-01"}, {"org": "856", "birth_month": "2005-03"}]}]


async def test_an_la_acting_on_a_plan_it_never_issued_is_dead_lettered_and_named_by_the_audit(
    connect_as: Connect, secured_bus: SecuredBus, projected: Projected,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    la = Source("856", (await connect_as("856")).nc.jetstream())
    admin = (await connect_as("admin")).nc.jetstream()
    # given LA 856's registration of Jay and the plan it issued him
    await la.publish(EVENTS.registered("jay", "2005-03", by="856"))
    await la.publish(EVENTS.plan_issued("jay", date(2019, 9, 2), plan="856-P-1"))
    # when, with its own service login and around its relay, it reviews and ceases a plan it
    # never issued him (the server lets it: the subject is under its own prefix)
    reviewed = await la.publish(
        EVENTS.review_held("jay", date(2024, 9, 1), plan="856-P-9"), chained=False)
    ceased = await la.publish(
        EVENTS.plan_ceased("jay", date(2024, 10, 1), plan="856-P-9"), chained=False)
    # and then its relay reviews the plan it did issue
    await la.publish(EVENTS.review_held("jay", date(2020, 9, 1), plan="856-P-1"))
    await projected.caught_up(admin)

    # then both are dead-lettered, naming the plan and the rule, and leave no row behind
    letters = await dead_letters(admin)
    assert [(d.reason, d.original_sequence) for d in letters] == [
        ("not_permitted", reviewed), ("not_permitted", ceased)]
    assert letters[0].error == (
        "ehc.annual_review_held from 856: payload.plan_id 856-P-9 names a plan 856 never issued "
        "for this person (no earlier ehc.plan_issued or ehc.plan_in_force_recorded of 856's "
        "about them on the stream)")
    with projected.dataset.snapshot() as snapshot:
        assert [(r.plan_id, r.held_on) for r in snapshot.rows("annual_reviews")] == [
            ("856-P-1", date(2020, 9, 1))]
        assert [(p.plan_id, p.ceased_on) for p in snapshot.rows("ehc_plans")] == [
            ("856-P-1", None)]

    # when the auditor checks the chains
    status, findings = await audit_chain(secured_bus, monkeypatch, capsys)
    # then each is named by stream sequence and source, and the LA's genuine chain is intact
    assert status == 1
    assert [f.split(",")[1].strip() for f in findings] == [
        f"stream sequence {reviewed}", f"stream sequence {ceased}"], findings
    assert all(f.startswith("not_permitted: source 856") and "names a plan 856 never issued" in f
               for f in findings)


async def test_acts_on_a_case_referral_or_placement_never_opened_are_refused_everywhere(
    connect_as: Connect, secured_bus: SecuredBus, projected: Projected,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    la = Source("856", (await connect_as("856")).nc.jetstream())
    trust = Source("RT5", (await connect_as("RT5")).nc.jetstream())
    ap = Source("AP001", (await connect_as("AP001")).nc.jetstream())
    admin = (await connect_as("admin")).nc.jetstream()
    retrier = (await connect_as("retrier")).nc.jetstream()
    # given LA 856's request for Jay's assessment and the trust's referral of him
    await la.publish(EVENTS.registered("jay", "2005-03", by="856"))
    await la.publish(EVENTS.assessment_requested("jay", date(2019, 1, 7), case="856-C-1"))
    await trust.publish(EVENTS.registered("jay", "2005-03", by="RT5"))
    await trust.publish(EVENTS.referral_made("jay", date(2019, 2, 1), referral="RT5-R-1"))
    await ap.publish(EVENTS.registered("jay", "2005-03", by="AP001"))
    # when each, with its own login and around its relay, acts on what it never opened for him
    decided = await la.publish(
        EVENTS.assessment_decided("jay", date(2019, 2, 10), case="856-C-9"), chained=False)
    started = await trust.publish(
        EVENTS.assessment_started("jay", date(2019, 5, 1), referral="RT5-R-9"), chained=False)
    ended = await ap.publish(
        EVENTS.placement_ended("jay", date(2019, 6, 1), placement="AP-9"), chained=False)
    # and the relays go on with what they did open
    await la.publish(EVENTS.assessment_decided("jay", date(2019, 2, 11), case="856-C-1"))
    await trust.publish(EVENTS.assessment_started("jay", date(2019, 5, 2), referral="RT5-R-1"))
    await projected.caught_up(admin)

    # then the three are dead-lettered, each naming the field and its value, and applied nowhere
    letters = await dead_letters(admin)
    assert [(d.reason, d.original_sequence) for d in letters] == [
        ("not_permitted", decided), ("not_permitted", started), ("not_permitted", ended)]
    assert [d.error.split(" (")[0] for d in letters] == [
        "ehc.assessment_decided from 856: payload.case_id 856-C-9 names a case 856 never "
        "opened for this person",
        "health.assessment_started from RT5: payload.referral_id RT5-R-9 names a referral RT5 "
        "never received for this person",
        "ap.placement_ended from AP001: payload.placement_id AP-9 names a placement AP001 never "
        "started for this person"]
    with projected.dataset.snapshot() as snapshot:
        assert [d.case_id for d in snapshot.rows("assessment_decisions")] == ["856-C-1"]
        assert [(r.referral_id, r.started_on) for r in snapshot.rows("referrals")] == [
            ("RT5-R-1", date(2019, 5, 2))]
        assert list(snapshot.rows("ap_placements")) == []

    # when the auditor checks the chains
    status, findings = await audit_chain(secured_bus, monkeypatch, capsys)
    # then each is named by stream sequence and source, and no genuine event is blamed
    assert status == 1
    assert [f.split(":")[1].split(",")[0].strip() for f in findings] == [
        "source 856 position 1", "source RT5 position 1", "source AP001 position 1"], findings
    assert [f.split(",")[1].strip() for f in findings] == [
        f"stream sequence {seq}" for seq in (decided, started, ended)]

    # when the retrier retries the trust's letter
    refused = await retry_dead_letter(retrier, letters[1].seq, retried_by="ops (login ana)")
    # then it is refused, saying why, and who tried is recorded
    assert refused.result == "refused"
    assert "payload.referral_id RT5-R-9 names a referral RT5 never received" in refused.detail
    shown = await show_dead_letter(admin, letters[1].seq)
    assert shown.retried is not None and shown.retried.by == "ops (login ana)"
    # but once the AP's relay publishes the placement it had started, its letter is republished
    await ap.publish(EVENTS.placement_started("jay", date(2019, 4, 1), placement="AP-9"))
    retried = await retry_dead_letter(retrier, letters[2].seq, retried_by="ops (login ana)")
    assert retried.result == "republished", retried.detail
    await projected.caught_up(admin)
    with projected.dataset.snapshot() as snapshot:
        assert [(p.placement_id, p.ended_on) for p in snapshot.rows("ap_placements")] == [
            ("AP-9", date(2019, 6, 1))]
