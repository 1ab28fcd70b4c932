"""`sendx rebuild` as an operator runs it beside the secured embedded server: with no NATS user
set it logs in as the `projector` (from the data directory), never as admin."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from contracts import encode
from contracts.subjects import event_subject
from projections.tracker.store import TRACKER
from sendx.cli import main
from tests.projections.conftest import EventFactory
from tests.runtime.bus.conftest import Connect, SecuredBus, connect_as, secured_bus  # noqa: F401

pytestmark = pytest.mark.integration
EVENTS = EventFactory()


async def test_rebuild_beside_the_embedded_server_logs_in_as_the_projector(
    connect_as: Connect,  # noqa: F811  (the imported fixture)
    secured_bus: SecuredBus,  # noqa: F811
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # given LA 856 has published two plans on the secured server
    js = (await connect_as("856")).nc.jetstream()
    for name in ("amira", "ben"):
        event = EVENTS.plan_issued(name, date(2025, 5, 2))
        await js.publish(event_subject("856", event.type, event.person_key), encode(event),
                         headers={"Nats-Msg-Id": str(event.event_id)})
    # when an operator rebuilds the tracker with no NATS user of their own set
    monkeypatch.setenv("SENDX_DATA_DIR", str(secured_bus.data_dir))
    for name in ("SENDX_NATS_USER", "SENDX_NATS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "tracker.sqlite"
    status = await asyncio.to_thread(main, [
        "rebuild", str(out), "--projection", "tracker", "--nats", secured_bus.server.url])
    # then the projector's login read the whole stream into the new store
    assert status == 0, capsys.readouterr().err
    tracker = TRACKER.open_store(out)
    assert tracker.position() == 2
    tracker.close()
