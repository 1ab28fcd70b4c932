"""A running LA service on the secured bus whose relay meets an event it cannot publish: the
LA keeps working, and the operator sees the quarantine in `sendx quarantine`, the metrics and
`/readyz`, and republishes it after the fix, logged in as the LA's own partner system."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families
from stories import PARTNERSHIP_KEY, story

from contracts.envelope import Envelope
from contracts.topology import OrgKind
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer, free_port
from runtime.bus.permissions import client_user
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.client import ServiceClient
from services.endpoint.process import OrganisationService, definition_for
from services.la.domain import EhcCase
from services.la.translation import LaContract
from services.sharing.relay import Stamp
from tests.waiting import eventually

pytestmark = pytest.mark.integration
LA = organisation("856")
REVIEW = {"plan_id": "856-P-1", "held_on": "2026-04-20", "preparing_for_adulthood": True}


class PlansBroken:
    """The LA's translator with a bug in sharing issued plans, until `fixed`."""

    fixed = False

    def __init__(self, app: Any, key: bytes) -> None:
        self.real = LaContract(app, key)

    def __call__(self, event: Any, stamp: Stamp) -> Envelope | None:
        envelope = self.real(event, stamp)  # what it learnt from the event stays learnt
        if isinstance(event, EhcCase.PlanIssued) and not PlansBroken.fixed:
            raise ValueError("placement_provider: simulated translator bug")
        return envelope


@dataclasses.dataclass
class Running:
    service: OrganisationService
    monitoring: str
    nats_url: str
    data_dir: Path
    admin: Client


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    """LA 856's service logged in as its own NATS user on a server with the generated users."""
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    admin = await connect_bus(server.url, name="test-admin", **credentials_for("admin", data_dir))
    await ensure_streams(admin.jetstream())
    service_login = credentials_for("856", data_dir)
    monkeypatch.setenv("SENDX_NATS_USER", service_login["user"])
    monkeypatch.setenv("SENDX_NATS_PASSWORD", service_login["password"])
    monkeypatch.setattr(PlansBroken, "fixed", False)
    definition = dataclasses.replace(definition_for(OrgKind.LA), translator=PlansBroken)
    settings = Settings(data_dir=data_dir, store="sqlite", partnership_key=PARTNERSHIP_KEY,
                        cipher_key=None)
    port = free_port()
    service = OrganisationService(definition, LA, settings=settings, nats_url=server.url,
                                  poll_interval=0.1, metrics_port=port)
    try:
        await service.start()
        yield Running(service, f"http://127.0.0.1:{port}", server.url, data_dir, admin)
    finally:
        await service.stop()
        await admin.close()
        server.stop()


async def sendx(running: Running, *args: str) -> tuple[int, str]:
    """`sendx ...` as the LA's operator would run it beside `sendx run` (no NATS user set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDX_NATS_")}
    env.update(SENDX_DATA_DIR=str(running.data_dir), NATS_URL=running.nats_url,
               PYTHONPATH=os.getcwd())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sendx.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def metric(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels.get("org") == "856":
                return s.value
    raise AssertionError(f"{name} not on /metrics")


async def test_the_la_keeps_working_and_its_operator_sees_and_republishes_the_quarantine(
    running: Running,
) -> None:
    js = running.admin.jetstream()
    partner = await ServiceClient.connect(
        running.nats_url, "856", timeout=20,
        credentials=credentials_for(client_user(LA), running.data_dir),
    )
    # given the LA's partner system records a story whose plan the relay cannot share
    async with partner:
        replies = [await partner.command(name, fields) for name, fields in story()]
        # and records more afterwards
        review = await partner.command("ehc.hold_annual_review", REVIEW)
    assert all(r["ok"] for r in [*replies, review]), replies
    plan_event = replies[-1]["event_ids"][0]

    async def stored(count: int) -> bool:
        return (await js.stream_info(EVENTS_STREAM)).state.messages == count

    # then every other event is published: the organisation was not held
    await eventually(lambda: stored(4), 20)
    last = await js.get_msg(EVENTS_STREAM, 4)
    assert review["event_ids"][0].encode() in last.data
    async with httpx.AsyncClient(base_url=running.monitoring, timeout=10) as http:
        # and the service is not ready, saying why
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        (reason,) = [r for r in ready.json()["reasons"] if r.startswith("quarantine:")]
        assert "1 stored event(s) quarantined" in reason and "simulated translator bug" in reason
        # and the metrics count it, in the lag too
        page = (await http.get("/metrics")).text
        assert metric(page, "sendx_relay_quarantined_events") == 1
        assert metric(page, "sendx_relay_lag_notifications") >= 1
        # and the operator lists it (exit 1 while anything is quarantined)
        code, out = await sendx(running, "quarantine", "list", "--org", "856")
        assert code == 1, out
        assert "EhcCase.PlanIssued" in out and plan_event in out
        assert "1 event(s) of 856 quarantined, not published" in out
        notification = int(out.split()[0])
        # when the bug is fixed and the operator republishes it
        PlansBroken.fixed = True
        code, out = await sendx(running, "quarantine", "republish", "--org", "856",
                                str(notification))
        assert code == 0, out
        # then the plan is published with the id the partner was given
        await eventually(lambda: stored(5), 20)
        assert plan_event.encode() in (await js.get_msg(EVENTS_STREAM, 5)).data

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready_again, 20)
        page = (await http.get("/metrics")).text
        assert metric(page, "sendx_relay_quarantined_events") == 0
        assert metric(page, "sendx_relay_lag_notifications") == 0
    code, out = await sendx(running, "quarantine", "list", "--org", "856", "--all")
    assert code == 0 and "republished at position" in out, out
