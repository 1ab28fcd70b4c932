"""A Node.js partner system (`examples/node/feed.mjs`, stock `nats` npm package) logged in as
the ICB's client receives exactly what the shipped demo agreement entitles it to, across a
killed feed process (`sendx feeds`, its own process) and a restarted nats-server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest

from contracts import Envelope, encode
from contracts.feeds import FEEDS_STREAM, org_feed
from contracts.sealing import seal
from contracts.subjects import event_subject
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import ensure_streams
from runtime.keystore import PersonKeyStore
from sendx.supervisor import sendx_command
from tests.npm import node, npm_ci
from tests.projections.conftest import EventFactory
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
ON = date(2026, 4, 1)


def env_as(server: NatsServer, data_dir: Path, who: str) -> dict[str, str]:
    login = credentials_for(who, data_dir)
    return {**os.environ, "NATS_URL": server.url, "SENDX_DATA_DIR": str(data_dir),
            "SENDX_NATS_USER": login["user"], "SENDX_NATS_PASSWORD": login["password"],
            "SENDX_METRICS_PORT": "0"}


def stop(process: subprocess.Popen, sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Partnership:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.data_dir = tmp_path / "data"
        self.server = NatsServer(store_dir=self.data_dir / "nats",
                                 auth=embedded_auth(self.data_dir)).start()
        self.processes: list[subprocess.Popen] = []

    def start_feeds(self) -> subprocess.Popen:
        log = self.tmp / "feeds.log"
        mark = log.read_text().count("feeds: agreement") if log.exists() else 0
        with open(log, "ab") as out:
            process = subprocess.Popen(
                sendx_command("feeds", "--store", str(self.tmp / "feeds.sqlite")),
                env=env_as(self.server, self.data_dir, "feeder"), stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while log.read_text().count("feeds: agreement") <= mark:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return process

    def start_node(self, who: str = "icb-QK1-client") -> Path:
        out_path = self.tmp / "node.jsonl"
        with open(out_path, "ab") as out:
            process = subprocess.Popen(
                [node(), str(EXAMPLE / "feed.mjs")], cwd=EXAMPLE,
                env=env_as(self.server, self.data_dir, who),
                stdout=out, stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return out_path

    async def publish(self, *envelopes: Envelope, sealed: bool = False) -> None:
        """As each source's service; `sealed`: under its person key, as its relay does."""
        for org in dict.fromkeys(e.source_org for e in envelopes):
            nc = await connect_bus(self.server.url, name=f"test-{org}",
                                   **credentials_for(org, self.data_dir))
            js = nc.jetstream()
            for e in (e for e in envelopes if e.source_org == org):
                key = await PersonKeyStore(js).key_for(org, e.person_key) if sealed else None
                body = encode(e if key is None else seal(e, key))
                await js.publish(event_subject(org, e.type, e.person_key), body,
                                 headers={"Nats-Msg-Id": str(e.event_id)})
            await nc.close()

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.server.stop()


@pytest.fixture
def partnership(tmp_path: Path) -> Iterator[Partnership]:
    node()
    npm_ci(EXAMPLE)
    bus = Partnership(tmp_path)
    try:
        yield bus
    finally:
        bus.close()


async def test_a_node_partner_receives_exactly_its_entitlement_across_restarts(
    partnership: Partnership,
) -> None:
    admin = await connect_bus(partnership.server.url, name="test-admin",
                              **credentials_for("admin", partnership.data_dir))
    await ensure_streams(admin.jetstream())
    await admin.close()
    factory = EventFactory()
    feeds = partnership.start_feeds()
    out = partnership.start_node()
    await eventually(lambda: out.exists() and any(line.get("ready") for line in lines(out)),
                     timeout=30, what="the node subscriber to bind its consumer")
    # the ICB knows ann and bob; the LAs issue and cease plans for them and for others
    entitled: list[Envelope] = []
    first = [factory.plan_issued("ann", ON, la="856"),            # before the ICB knew ann
             factory.referral_made("ann", ON, by="QK1"),
             factory.plan_issued("zed", ON, la="855")]            # never known to the ICB
    entitled.append(first[0])
    await partnership.publish(*first)
    # the feed process is killed mid-stream and started again
    stop(feeds, signal.SIGKILL)
    second = [factory.health_flag_set("bob", ON, la="857", by="QK1"),
              *(factory.plan_issued(f"c{i}", ON, la="856", plan=f"C{i}") for i in range(40)),
              factory.plan_issued("bob", ON, la="857")]
    entitled.append(second[-1])
    await partnership.publish(*second)
    feeds = partnership.start_feeds()
    # nats-server restarts under everyone
    partnership.server.stop()
    partnership.server.start()
    third = [factory.plan_ceased("ann", ON, la="856"), factory.plan_ceased("zed", ON, la="855"),
             factory.diagnosis("bob", ON, by="RT5")]               # not a plan: LA 857's clause
    entitled.append(third[0])
    await partnership.publish(*third)
    wanted = {str(e.event_id) for e in entitled}

    def received() -> list[dict]:
        return [line for line in lines(out) if "event_id" in line]

    await eventually(lambda: {r["event_id"] for r in received()} >= wanted, timeout=60,
                     what="the node subscriber to receive its entitlement")
    # and the feed holds each of them once, nothing more (read as the auditor)
    auditor = await connect_bus(partnership.server.url, name="test-auditor",
                                **credentials_for("auditor", partnership.data_dir))
    info = await auditor.jetstream().stream_info(FEEDS_STREAM, subjects_filter=org_feed("QK1"))
    await auditor.close()
    assert info.state.messages == len(wanted)
    got = received()
    assert {r["event_id"] for r in got} == wanted
    # a delivery in flight when the server went down comes again (at least once, flagged
    # redelivered, same Nats-Msg-Id for the partner to recognise): never a second copy
    for event_id in wanted:
        copies = [r for r in got if r["event_id"] == event_id]
        assert all(r["redelivered"] for r in copies[1:]), copies
    assert {r["clause"] for r in got} == {"icb-plans"}
    assert all(r["subject"].startswith("send.feed.QK1.") for r in got)


async def test_a_node_la_opens_the_condition_the_demo_agreement_opens_for_it(
    partnership: Partnership,
) -> None:
    admin = await connect_bus(partnership.server.url, name="test-admin",
                              **credentials_for("admin", partnership.data_dir))
    await ensure_streams(admin.jetstream())
    await admin.close()
    factory = EventFactory()
    partnership.start_feeds()
    out = partnership.start_node("la-856-client")
    await eventually(lambda: out.exists() and any(line.get("ready") for line in lines(out)),
                     timeout=30, what="the node subscriber to bind its consumer")
    # a child on LA 856's caseload is diagnosed by the ICB (condition sealed by the ICB)
    await partnership.publish(factory.assessment_requested("eve", ON, la="856"))
    diagnosed = factory.diagnosis("eve", ON, "adhd", by="QK1")
    await partnership.publish(diagnosed, sealed=True)

    def received() -> list[dict]:
        return [line for line in lines(out) if "event_id" in line]

    await eventually(lambda: len(received()) >= 1, timeout=60, what="the diagnosis")
    [got] = received()
    assert got["event_id"] == str(diagnosed.event_id) and got["clause"] == "la-856-diagnoses"
    assert got["opened"] == {"condition": "adhd"}
