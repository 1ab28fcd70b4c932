"""The alert runner on a real nats-server: alerts on SEND_ALERTS, once, as days pass."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import jsonschema
import orjson
import pytest
from nats.js import JetStreamContext

from contracts.alerts import alert_json_schema
from contracts.subjects import projection_changes
from projections.alerts.runner import AlertRunner
from projections.alerts.sent import SentAlerts
from runtime.bus.outbound import ALERTS_STREAM
from tests.waiting import eventually


async def alerts_on(js: JetStreamContext, subject: str = "send.alert.>") -> list[dict]:
    """Every alert message on `subject`, oldest first (read back through a consumer)."""
    info = await js.stream_info(ALERTS_STREAM)
    if info.state.messages == 0:
        return []
    sub = await js.subscribe(subject, stream=ALERTS_STREAM, ordered_consumer=True)
    found = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return found
            found.append(orjson.loads(msg.data) | {"_subject": msg.subject})
    finally:
        await sub.unsubscribe()


class Clock:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture
def amira(record, events) -> str:  # noqa: ANN001
    # LA 856's plan; transition plan due by 15, 30 April 2026
    record(events.registered("amira", "2011-04"), events.plan_issued("amira", date(2020, 3, 2)))
    return events.person("amira")


async def test_alerts_are_published_once_and_again_only_when_what_they_say_changes(
        nc, js, tracker_store, store, amira, tmp_path: Path) -> None:
    clock = Clock(date(2026, 3, 1))
    sent = SentAlerts(tmp_path / "sent.sqlite")
    runner = AlertRunner(nc, tracker_store, store, sent, default_health="QK1", today=clock)
    await runner._ensure_stream()
    rung: asyncio.Queue = asyncio.Queue()
    doorbell = await nc.subscribe(projection_changes("alerts"), cb=rung.put)
    assert await runner.evaluate_once() > 0
    # the live feed hears of it, with the alerts sent so far per owning organisation
    change = orjson.loads((await asyncio.wait_for(rung.get(), 5)).data)
    await doorbell.unsubscribe()
    first = await alerts_on(js, f"send.alert.856.milestone.{amira}")
    plans = [a for a in first if a["payload"]["about"] == "transition_plan"]
    assert [(p["payload"]["severity"], p["payload"]["due_on"], p["payload"]["owner_org"])
            for p in plans] == [("amber", "2026-04-30", "856")]
    for message in first:
        jsonschema.validate({k: v for k, v in message.items() if k != "_subject"},
                            alert_json_schema())
        assert message["event_id"] == message["payload"]["alert_id"]
    everything = await alerts_on(js)
    # LA 856's milestones to 856; its plan, unflagged by health since 2020, to the ICB
    assert {tuple(a["_subject"].split(".")[2:4]) for a in everything} == {
        ("856", "milestone"), ("QK1", "discrepancy")}
    assert change["projection"] == "alerts"
    assert change["alert_counts"] == {"856": len(first), "QK1": len(everything) - len(first)}
    # evaluated again the same day, and by a restarted process: nothing is sent twice
    assert await runner.evaluate_once() == 0
    sent.close()
    again = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                        default_health="QK1", today=clock)
    assert await again.evaluate_once() == 0
    assert len(await alerts_on(js)) == len(everything)
    # the day passes the due date: the red alert, and only that, is new
    clock.day = date(2026, 5, 1)
    assert await again.evaluate_once() >= 1
    later = await alerts_on(js, f"send.alert.856.milestone.{amira}")
    assert [(a["payload"]["severity"]) for a in later
            if a["payload"]["about"] == "transition_plan"] == ["amber", "red"]


async def test_the_running_process_alerts_when_a_projector_announces_a_commit(
        nc, js, tracker_store, store, record, events, tmp_path: Path) -> None:
    runner = AlertRunner(nc, tracker_store, store, SentAlerts(tmp_path / "sent.sqlite"),
                         default_health="QK1", today=lambda: date(2025, 3, 10), interval=60,
                         settle=0.05)
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: runner.rounds >= 1, what="the first evaluation")
        assert await alerts_on(js) == []
        # RT5 has referred nia; LA 856 issues her a plan; the tracker's projector commits
        record(events.referral_made("nia", date(2024, 6, 1), by="RT5"),
               events.plan_issued("nia", date(2025, 3, 1)))
        await nc.publish(projection_changes("tracker"), b"{}")
        found = await eventually(lambda: alerts_on(js, "send.alert.RT5.new_plan.>"),
                                 what="the new-plan alert to RT5")
        assert [a["payload"]["about"] for a in found] == ["plan_issued:P1"]
        assert found[0]["_subject"] == f"send.alert.RT5.new_plan.{events.person('nia')}"
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
