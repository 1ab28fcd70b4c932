"""Withdrawn alerts, seen where the owner sees them: its alerts from the API (the same
CloudEvents its webhook gets) and the alert counts, as days pass and the facts change."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import jsonschema
import orjson
import pytest
from fastapi.testclient import TestClient

from contracts.alerts import withdrawal_json_schema
from contracts.person import PersonErased
from contracts.subjects import projection_changes
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.alerts.counts import alert_counts
from projections.alerts.runner import AlertRunner
from projections.alerts.sent import SentAlerts
from projections.alerts.withdrawals import OpenAlert
from projections.serving.api import create_app
from projections.serving.live import LiveFeed
from runtime.bus.connection import connect_bus
from runtime.bus.outbound import feeds_stream
from runtime.bus.streams import ensure_stream
from sendx.commands.alerts import run_counts
from tests.projections.alerts.test_alert_process import Clock, alerts_on
from tests.projections.delivery.receiver import Receiver
from tests.projections.delivery.test_webhook_delivery import SECRET, endpoint, start, stop
from tests.waiting import eventually

LEICESTER = {"Authorization": "Bearer token-of-leicester"}

Round = Callable[[date], int]


@pytest.fixture
def api(nats_url: str, store, tracker_store, tmp_path: Path):  # noqa: ANN001, ANN201
    registry = TokenRegistry([TokenEntry(name="leicester", sha256=hash_token("token-of-leicester"),
                                         role="partner", org="856")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    live = LiveFeed(("dataset", "alerts"), nats_url=nats_url,
                    connect=lambda url: connect_bus(url, name="test-api"))
    app = create_app(store, tracker=tracker_store, access=AccessControl(registry, log, store),
                     live=live)
    with TestClient(app) as client:
        yield client
    log.close()


@pytest.fixture
def evaluate(nats_url: str, store, tracker_store, tmp_path: Path) -> Round:  # noqa: ANN001
    """One round of the alert process as of a day (a new process each time, one record)."""

    async def one(day: date) -> int:
        nc = await connect_bus(nats_url, name="test-alerts")
        sent = SentAlerts(tmp_path / "alerts-sent.sqlite")
        try:
            runner = AlertRunner(nc, tracker_store, store, sent, default_health="QK1",
                                 today=lambda: day)
            await runner._ensure_stream()
            return await runner.evaluate_once()
        finally:
            sent.close()
            await nc.close()

    return lambda day: asyncio.run(one(day))


def alerts_of(api: TestClient) -> list[dict]:
    """Leicester's alerts and withdrawals, as its webhook would deliver them."""
    page = api.get("/api/deliveries/alerts?limit=500", headers=LEICESTER)
    assert page.status_code == 200, page.text
    return [e["event"] for e in page.json()["events"]]


def about(events: list[dict], what: str) -> list[tuple[str, str]]:
    """(CloudEvent type, severity or withdrawal reason) of what is said about `what`."""
    return [(e["type"], e["data"]["payload"].get("severity") or e["data"]["payload"]["reason"])
            for e in events if e["data"]["payload"]["about"] == what]


def test_an_alert_is_withdrawn_when_superseded_and_when_done_and_counts_drop(
        api, evaluate, record, events) -> None:
    # given amira (LA 856's plan; transition plan due by 30 April 2026), alerted in March
    record(events.registered("amira", "2011-04"), events.plan_issued("amira", date(2020, 3, 2)))
    amira = events.person("amira")
    assert evaluate(date(2026, 3, 1)) > 0
    assert about(alerts_of(api), "transition_plan") == [
        ("uk.send-exchange.alert.raised.v1", "amber")]
    opened = api.get("/api/alerts/counts", headers=LEICESTER).json()
    assert opened["withdrawn"].get("856", 0) == 0
    # when May comes and it is overdue: red, and the amber alert withdrawn as superseded by it
    assert evaluate(date(2026, 5, 1)) >= 2
    said = alerts_of(api)
    assert about(said, "transition_plan") == [
        ("uk.send-exchange.alert.raised.v1", "amber"), ("uk.send-exchange.alert.raised.v1", "red"),
        ("uk.send-exchange.alert.withdrawn.v1", "superseded")]
    amber, red, withdrawal = (e for e in said if e["data"]["payload"]["about"] == "transition_plan")
    assert withdrawal["subject"] == f"send.alert.856.withdrawn.{amira}"
    assert withdrawal["data"]["payload"]["alert_id"] == amber["id"]
    assert withdrawal["data"]["payload"]["superseded_by"] == red["id"]
    assert withdrawal["id"] == withdrawal["data"]["event_id"] != amber["id"]
    # when the LA agrees the transition plan: the red alert is withdrawn, done
    record(events.transition_plan("amira", date(2026, 5, 10)))
    assert evaluate(date(2026, 5, 11)) == 1
    assert about(alerts_of(api), "transition_plan")[-1] == (
        "uk.send-exchange.alert.withdrawn.v1", "done")
    counts = api.get("/api/alerts/counts", headers=LEICESTER).json()
    assert counts["counts"]["856"] == opened["counts"]["856"] - 1
    assert counts["withdrawn"]["856"] == 2
    # then evaluating again, that day or later, by a new process, says nothing new
    assert evaluate(date(2026, 5, 11)) == 0
    assert evaluate(date(2026, 5, 12)) == 0
    assert api.get("/api/alerts/counts", headers=LEICESTER).json() == counts


class CrashAfterPublishing(SentAlerts):
    """A record that cannot note a withdrawal: as if the process died just after the
    server acknowledged it."""

    def record_withdrawal(self, alert_id: UUID, reason: str, stream_sequence: int) -> None:
        raise ConnectionAbortedError("killed between publish and record")


async def test_a_crash_between_publishing_and_recording_a_withdrawal_sends_it_once(
        nc, js, tracker_store, store, record, events, tmp_path: Path) -> None:
    path = tmp_path / "sent.sqlite"
    record(events.plan_issued("ola", date(2025, 1, 10)))  # LA 856's plan, unflagged by health
    first = AlertRunner(nc, tracker_store, store, SentAlerts(path), default_health="QK1",
                        today=lambda: date(2025, 3, 1))
    await first._ensure_stream()
    assert await first.evaluate_once() == 1  # the ICB is told to check its record
    # health flags it; the process dies after publishing the withdrawal
    record(events.health_flag_set("ola", date(2025, 3, 2)))
    crashing = AlertRunner(nc, tracker_store, store, CrashAfterPublishing(path),
                           default_health="QK1", today=lambda: date(2025, 3, 3))
    with pytest.raises(ConnectionAbortedError):
        await crashing.evaluate_once()
    # restarted, it publishes the withdrawal again: the same message, which the server drops
    again = AlertRunner(nc, tracker_store, store, SentAlerts(path), default_health="QK1",
                        today=lambda: date(2025, 3, 3))
    assert await again.evaluate_once() == 1
    assert await again.evaluate_once() == 0
    said = await alerts_on(js, "send.alert.QK1.>")
    assert [(m["type"], m["payload"].get("reason")) for m in said] == [
        ("alert.raised", "LA 856 has counted an active EHC plan since 2025-01-10; health has "
         "no plan flag for it: check the health record (grace 28 days)"),
        ("alert.withdrawn", "reconciled")]
    jsonschema.validate({k: v for k, v in said[1].items() if k != "_subject"},
                        withdrawal_json_schema())
    assert said[1]["payload"]["alert_id"] == said[0]["event_id"]
    assert SentAlerts(path).counts_by_owner() == {"QK1": (0, 1)}


async def test_a_new_plan_alert_is_withdrawn_once_health_flags_the_plan_not_when_it_ages(
        nc, js, tracker_store, store, record, events, tmp_path: Path) -> None:
    clock = Clock(date(2025, 3, 10))
    runner = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=clock)
    await runner._ensure_stream()
    # RT5 referred nia and ben; LA 856 issues each a plan
    record(events.referral_made("nia", date(2024, 6, 1), by="RT5"),
           events.plan_issued("nia", date(2025, 3, 1)),
           events.referral_made("ben", date(2024, 6, 1), by="RT5", referral="R2"),
           events.plan_issued("ben", date(2025, 3, 1), plan="P2"))
    assert await runner.evaluate_once() == 2
    # past the window, unflagged: ben's still stands (and the discrepancy rule takes over)
    record(events.health_flag_set("nia", date(2025, 3, 20)))
    clock.day = date(2025, 4, 15)
    await runner.evaluate_once()
    said = await alerts_on(js, "send.alert.RT5.>")
    withdrawn = [m["payload"] for m in said if m["type"] == "alert.withdrawn"]
    assert [(w["kind"], w["about"], w["reason"]) for w in withdrawn] == [
        ("new_plan", "plan_issued:P1", "done")]
    assert [m["_subject"] for m in said if m["type"] == "alert.withdrawn"] == [
        f"send.alert.RT5.withdrawn.{events.person('nia')}"]


async def test_the_owner_that_erases_a_person_has_their_open_alerts_withdrawn(
        nc, js, tracker_store, store, record, events, tmp_path: Path) -> None:
    record(events.registered("amira", "2011-04"), events.plan_issued("amira", date(2020, 3, 2)))
    runner = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=lambda: date(2026, 3, 1))
    await runner._ensure_stream()
    raised = await runner.evaluate_once()
    assert raised > 0
    # LA 856, the only organisation that registered her, erases her
    record(events.wrap(PersonErased(erased_on=date(2026, 3, 2), reason="data_subject_request"),
                       "amira", "856", date(2026, 3, 2)))
    rung: asyncio.Queue = asyncio.Queue()
    doorbell = await nc.subscribe(projection_changes("alerts"), cb=rung.put)
    assert await runner.evaluate_once() == raised
    # the live feed hears of it: nothing open any more, all of it withdrawn
    change = orjson.loads((await asyncio.wait_for(rung.get(), 5)).data)
    await doorbell.unsubscribe()
    assert change["alert_counts"] == {"856": 0, "QK1": 0}
    assert sum(change["alerts_withdrawn"].values()) == raised
    withdrawn = [m for m in await alerts_on(js) if m["type"] == "alert.withdrawn"]
    assert {m["payload"]["reason"] for m in withdrawn} == {"erased"}
    assert {m["_subject"].split(".")[2] for m in withdrawn} == {"856", "QK1"}
    assert await runner.evaluate_once() == 0
    assert (await alert_counts(js)).open == {"856": 0, "QK1": 0}


def test_a_record_written_before_withdrawals_is_migrated_and_its_alerts_stay_open(
        tmp_path: Path) -> None:
    path, alert = tmp_path / "alerts-sent.sqlite", uuid4()
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE sent_alerts (position INTEGER PRIMARY KEY AUTOINCREMENT, "
                   "alert_id TEXT NOT NULL UNIQUE, owner_org TEXT NOT NULL, kind TEXT NOT NULL, "
                   "person_key TEXT NOT NULL, stream_sequence INTEGER NOT NULL, "
                   "sent_at TEXT NOT NULL)")
        db.execute("INSERT INTO sent_alerts (alert_id, owner_org, kind, person_key, "
                   "stream_sequence, sent_at) VALUES (?, '856', 'milestone', 'p_1', 1, 'then')",
                   (str(alert),))
        db.commit()
    sent = SentAlerts(path)
    try:
        assert sent.open_alerts() == [OpenAlert(alert, "856", "milestone", "p_1", None, 1)]
        sent.record_withdrawal(alert, "done", 2)
        sent.record_withdrawal(alert, "superseded", 3)  # once only
        assert sent.open_alerts() == []
        assert sent.counts_by_owner() == {"856": (0, 1)}
    finally:
        sent.close()


async def test_a_webhook_receives_the_withdrawal_as_its_own_cloudevent_type(
        nats_url, nc, js, tracker_store, store, record, events, tmp_path: Path) -> None:
    # given the ICB alerted of ola's unflagged plan, then health flagging it
    record(events.plan_issued("ola", date(2025, 1, 10)))
    clock = Clock(date(2025, 3, 1))
    runner = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=clock)
    await runner._ensure_stream()
    await ensure_stream(js, feeds_stream())
    await runner.evaluate_once()
    record(events.health_flag_set("ola", date(2025, 3, 2)))
    clock.day = date(2025, 3, 3)
    await runner.evaluate_once()
    # when the ICB's webhook delivers its alerts
    with Receiver(SECRET.encode()) as receiver:
        delivery, task, conn = await start(nats_url, endpoint(receiver.url, sources=["alerts"]))
        try:
            await eventually(lambda: len(receiver.accepted) == 2, what="both messages")
        finally:
            await stop(delivery, task, conn)
    # then the second is the withdrawal of the first, typed as such
    raised, withdrawn = receiver.accepted
    assert (raised["type"], withdrawn["type"]) == (
        "uk.send-exchange.alert.raised.v1", "uk.send-exchange.alert.withdrawn.v1")
    assert withdrawn["subject"] == f"send.alert.QK1.withdrawn.{events.person('ola')}"
    assert withdrawn["data"]["payload"] | {"explanation": ""} == {
        "withdrawal_id": withdrawn["id"], "alert_id": raised["id"], "kind": "discrepancy",
        "owner_org": "QK1", "about": "la_only:856", "reason": "reconciled",
        "superseded_by": None, "explanation": "", "as_of": "2025-03-03"}


def test_the_operators_counts_say_open_and_withdrawn_per_organisation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    sent = SentAlerts(tmp_path / "alerts-sent.sqlite")
    first, second = uuid4(), uuid4()
    sent.record(first, "856", "milestone", "p_1", 1, "named_worker")
    sent.record(second, "856", "milestone", "p_1", 2, "transition_plan")
    sent.record_withdrawal(first, "done", 3)
    sent.close()
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path))
    assert run_counts(argparse.Namespace()) == 0
    assert capsys.readouterr().out.splitlines() == [
        "owner\topen\twithdrawn", "856\t1\t1", "total\t1\t1"]
