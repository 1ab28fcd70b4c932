"""History that cannot be shortened unseen: no user `sendx` creates, admin included, may change
the protected streams' retention; the break-glass user can, and the auditor then sees it.

Against the real nats-server with the generated permissions, as the issue's attack was made:
admin's `max_age 2s` update of SEND_EVENTS (17,592 events gone, `audit chain` said intact).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import orjson
import pytest
from nats.js.api import ConsumerConfig, StreamConfig

from contracts.subjects import event_subject
from projections.audit.checkpoint import default_checkpoint
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import breakglass_credentials, credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import (
    DEADLETTER_STREAM,
    EVENTS_STREAM,
    PERSON_KEYS_STREAM,
    StreamChangeRefused,
    ensure_streams,
    events_stream,
)
from sendx.commands import audit
from tests.projections.audit.conftest import tiny_population
from tests.runtime.bus.conftest import Connect
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PERSON = "p_" + "b" * 32
EVENTS = 40


def shortened() -> StreamConfig:
    """The issue's attack: SEND_EVENTS keeping 2 seconds, one message per subject."""
    attack = events_stream()
    attack.max_age, attack.max_msgs_per_subject, attack.duplicate_window = 2.0, 1, 1.0
    return attack


async def test_admin_cannot_shorten_purge_or_delete_the_protected_streams(
    connect_as: Connect,
) -> None:
    # given the streams, and one event on the history
    admin, la_856 = await connect_as("admin"), await connect_as("856")
    await la_856.nc.jetstream().publish(event_subject("856", "ehc.plan_issued", PERSON), b"{}")
    js = admin.nc.jetstream()
    # when admin tries the attack, and every other way of removing history
    with pytest.raises(nats.errors.TimeoutError):
        await admin.nc.request(f"$JS.API.STREAM.UPDATE.{EVENTS_STREAM}",
                               orjson.dumps(shortened().as_dict()), timeout=1)
    refused = [
        f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}",
        f"$JS.API.STREAM.PURGE.{DEADLETTER_STREAM}",
        f"$JS.API.STREAM.DELETE.{DEADLETTER_STREAM}",
        f"$JS.API.STREAM.UPDATE.{PERSON_KEYS_STREAM}",
        f"$JS.API.STREAM.PURGE.{PERSON_KEYS_STREAM}",
        f"$JS.API.STREAM.MSG.DELETE.{EVENTS_STREAM}",
        "$JS.API.ACCOUNT.PURGE.$G",
    ]
    for subject in refused:
        with pytest.raises(nats.errors.TimeoutError):
            await admin.nc.request(subject, b"{}", timeout=0.5)
    # then the server refused each, and the history and its retention are as they were
    await eventually(lambda: len(admin.violations()) >= len(refused) + 1, 20,
                     what="the server's refusals")
    update = f"$js.api.stream.update.{EVENTS_STREAM}".lower()
    assert admin.violations()[0] == f'nats: permissions violation for publish to "{update}"'
    assert len(admin.violations()) == len(refused) + 1
    info = await js.stream_info(EVENTS_STREAM)
    assert (info.config.max_age, info.config.max_msgs_per_subject) == (0, -1)
    assert info.state.messages == 1
    # and creating the streams again as admin (what `sendx run` does) changes nothing, quietly
    await ensure_streams(js)


async def test_the_projector_deletes_only_its_own_durable_consumers(connect_as: Connect) -> None:
    # given the projector's durable and another's (an operator's, another tool's)
    admin, projector = await connect_as("admin"), await connect_as("projector")
    for name in ("projection-dataset", "wire-audit"):
        await admin.nc.jetstream().add_consumer(
            EVENTS_STREAM, ConsumerConfig(name=name, durable_name=name)
        )
    js = projector.nc.jetstream()
    # when the projector deletes each: its own goes (it recreates it when its store moved)...
    assert await js.delete_consumer(EVENTS_STREAM, "projection-dataset")
    # ...but the other's is refused by the server
    with pytest.raises(nats.errors.TimeoutError):
        await projector.nc.request(f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.wire-audit", b"",
                                   timeout=1)
    await eventually(projector.violations, 20, what="the server's refusal")
    assert "permissions violation for publish" in projector.violations()[0]
    assert (await admin.nc.jetstream().consumer_info(EVENTS_STREAM, "wire-audit")).name == (
        "wire-audit"
    )


@pytest.fixture
def glass_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NatsServer]:
    """The embedded secured server started with the break-glass user let in."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    auth = embedded_auth(data_dir, breakglass=True)
    server = NatsServer(store_dir=data_dir / "nats", auth=auth).start()
    try:
        yield server
    finally:
        server.stop()


def sendx_audit(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sendx")
    audit.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return int(args.func(args) or 0)


async def test_history_shortened_with_break_glass_is_detected_by_the_auditor(
    glass_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # given LA 856's events on the history, and a first audit that verified them all
    data_dir, url = tmp_path / "data", glass_server.url
    admin = await connect_bus(url, name="test-admin", **credentials_for("admin", data_dir))
    await ensure_streams(admin.jetstream())
    la = await connect_bus(url, name="test-856", **credentials_for("856", data_dir))
    leicester = [w for w in tiny_population() if w.subject.split(".")[3] == "856"][:EVENTS]
    for subject, msg_id, data in leicester:
        await la.jetstream().publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    assert await asyncio.to_thread(sendx_audit, "chain", "--nats", url) == 0, \
        capsys.readouterr().out
    assert f"chains: {EVENTS} messages checked, every source's hash chain is intact" in \
        capsys.readouterr().out
    assert default_checkpoint(data_dir).exists()

    # when someone with the break-glass login makes the change and history ages out
    glass = await connect_bus(url, name="test-breakglass", **breakglass_credentials(data_dir))
    await glass.jetstream().update_stream(shortened())
    async def aged_out() -> bool:
        return not (await admin.jetstream().stream_info(EVENTS_STREAM)).state.messages

    await eventually(aged_out, 20, what="the history to age out", interval=0.2)

    # then `sendx audit chain`, as the auditor, fails loudly naming what is gone and why
    status = await asyncio.to_thread(sendx_audit, "chain", "--nats", url)
    out = capsys.readouterr().out
    assert status == 1, out
    assert "chains: 0 messages checked, " in out
    assert (f"truncated: SEND_EVENTS, stream sequence {EVENTS + 1}: the stream has held "
            f"{EVENTS} messages (last sequence {EVENTS}) but holds none now") in out
    assert "reconfigured: SEND_EVENTS: max_age is 2s, declared 0 (kept for ever)" in out
    assert "reconfigured: SEND_EVENTS: max_msgs_per_subject is 1, declared -1" in out
    assert f"holds 0 messages, {EVENTS} fewer than the {EVENTS} the audit of" in out
    assert "its chain head verified by the audit of" in out
    # and admin's usual start cannot quietly put it back either: only break glass can
    with pytest.raises(StreamChangeRefused, match="max_age is 2s, declared 0.*break-glass"):
        await ensure_streams(admin.jetstream())
    for nc in (admin, la, glass):
        await nc.close()
