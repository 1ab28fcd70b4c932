"""The Node.js partner example (`examples/node/partner.mjs`, stock `nats` npm package) against
the secured embedded server and a real LA service, logged in as the LA's client user.

From the partner's seat: the example only knows what docs/partners.md says (user, password,
inbox prefix, subjects, bodies). The test reads what it printed (every reply and error), checks
each reply against the AsyncAPI reply schemas, then reads the stream as the auditor: the events
its commands caused are there, under the event ids the replies named, with the person key the
example derived itself from the NHS number. Over TLS (handshake first) as well as plain.
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from nats.js.api import StreamInfo

from contracts import decode
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer, ServerTls
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from sendx.commands.schemas import asyncapi_document
from sendx.supervisor import sendx_command
from services.domain.identity import person_key
from tests.npm import node, npm_ci
from tests.runtime.bus.conftest import (
    Certificates,
    certificates,  # noqa: F401 - a fixture, used by name
)
from tests.waiting import eventually, logged_sync

jsonschema = pytest.importorskip("jsonschema")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
KEY = "node-example-partnership-key"
CHILD = "999 000 0018"


@dataclass
class Partnership:
    server: NatsServer
    data_dir: Path
    service: subprocess.Popen
    ca_file: Path | None

    def tls(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None

    def env(self, who: str) -> dict[str, str]:
        """A process's environment: logged in as `who`, with TLS where the server has it."""
        login = credentials_for(who, self.data_dir)
        env = {
            **os.environ, "NATS_URL": self.server.url, "SENDX_DATA_DIR": str(self.data_dir),
            "SENDX_PARTNERSHIP_KEY": KEY, "SENDX_METRICS_PORT": "0",
            "SENDX_NATS_USER": login["user"], "SENDX_NATS_PASSWORD": login["password"],
        }
        if self.ca_file is not None:
            env["SENDX_NATS_CA"] = str(self.ca_file)
        return env


def start_la_service(partnership: Partnership, log: Path) -> subprocess.Popen:
    """`sendx service la --org 856` as its own process, logged in as `la-856`."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            sendx_command("service", "la", "--org", "856"),
            env=partnership.env("856"), stdout=out, stderr=subprocess.STDOUT,
        )
    logged_sync(process, log, "commands on send.cmd.856.>")
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    node()
    return npm_ci(EXAMPLE)


@pytest.fixture(params=["plain", "tls"])
async def partnership(
    request: pytest.FixtureRequest, tmp_path: Path, node_modules: Path
) -> AsyncIterator[Partnership]:
    """The secured embedded server (plain, or TLS with a test CA), streams, an LA service."""
    tls = None
    ca_file = None
    if request.param == "tls":
        certs: Certificates = request.getfixturevalue("certificates")
        tls, ca_file = ServerTls(certs.cert_file, certs.key_file), certs.ca_file
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir), tls=tls).start()
    service = None
    try:
        bus = Partnership(server, data_dir, None, ca_file)  # type: ignore[arg-type]
        admin = await connect_bus(server.url, name="test-setup", tls=bus.tls(),
                                  **credentials_for("admin", data_dir))
        await ensure_streams(admin.jetstream())
        await admin.close()
        service = bus.service = start_la_service(bus, tmp_path / "service.log")
        yield bus
    finally:
        if service is not None:
            stop(service)
        server.stop()


def run_example(partnership: Partnership, **extra: str) -> tuple[int, list[dict[str, Any]], str]:
    """`node examples/node/partner.mjs` as la-856-client: exit code, printed lines, stderr."""
    env = {**partnership.env("la-856-client"), **extra}
    done = subprocess.run(
        [node(), str(EXAMPLE / "partner.mjs")], cwd=EXAMPLE, env=env,
        capture_output=True, text=True, timeout=120,
    )
    lines = [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


def by_step(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["step"]: line for line in lines}


def reply_validator(name: str) -> Any:
    document = asyncapi_document()
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    )


async def stream_events(partnership: Partnership, expected: int) -> list[tuple[dict, Any]]:
    """Every message on SEND_EVENTS, read as the auditor by sequence, once `expected` are there."""
    nc = await connect_bus(partnership.server.url, name="test-auditor", tls=partnership.tls(),
                           **credentials_for("auditor", partnership.data_dir))
    try:
        js = nc.jetstream()
        async def all_there() -> StreamInfo | None:
            info = await js.stream_info(EVENTS_STREAM)
            return info if info.state.messages >= expected else None

        info = await eventually(all_there, 30, what=f"{expected} events on the stream")
        return [
            (dict((await js.get_msg(EVENTS_STREAM, seq)).headers or {}),
             await js.get_msg(EVENTS_STREAM, seq))
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()


async def test_the_node_example_registers_requests_imports_and_reads_every_error(
    partnership: Partnership,
) -> None:
    # when the example runs as la-856-client
    code, lines, stderr = run_example(partnership)
    assert code == 0, (lines, stderr)
    steps = by_step(lines)
    assert steps["connected"]["inbox_prefix"] == "_INBOX.la-856-client"
    # then the person was registered once: the resend is a duplicate with the same event ids
    first, again = steps["register"]["reply"], steps["register again"]["reply"]
    assert first["ok"] and not first["duplicate"] and len(first["event_ids"]) == 1
    assert again == {**first, "duplicate": True}
    assessment = steps["request assessment"]["reply"]
    assert assessment["ok"] and len(assessment["event_ids"]) == 1
    # and the import reports each row: two accepted, two rejected naming their row and field
    report = steps["import"]["reply"]
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (2, 2, 0)
    rows = {row["row"]: row for row in report["rows"]}
    assert rows[2]["accepted"] and rows[3]["accepted"]
    assert rows[4]["error"] == (
        "row 4, field nhs_number: NHS number fails the modulus-11 check digit"
    )
    assert rows[5]["error"].startswith("row 5, field record_id: required")
    # and every error is a reply that names the field, reference or rule
    errors = {step: line["reply"] for step, line in steps.items()
              if "reply" in line and not line["reply"]["ok"]}
    assert set(errors) == {"unknown field", "bad value", "rule", "unknown command", "not json"}
    assert errors["unknown field"]["error"] == "field colour: not a field of ehc.decide_assessment"
    assert "field decided_on:" in errors["bad value"]["error"]
    assert "field decision:" in errors["bad value"]["error"]
    assert "856-NO-SUCH-CASE" in errors["rule"]["error"]
    assert "unknown command 'ehc.make_plan'" in errors["unknown command"]["error"]
    assert errors["not json"]["error"].startswith(
        "ehc.decide_assessment: the body is not valid JSON"
    )
    # and every reply is what the AsyncAPI document says a reply is
    command_reply, import_reply = reply_validator("CommandReply"), reply_validator("ImportReply")
    for step, line in steps.items():
        if "reply" in line:
            (import_reply if step == "import" else command_reply).validate(line["reply"])
    # and the stream holds exactly the events the replies named, about the key Node derived
    named = first["event_ids"] + assessment["event_ids"] + [
        event_id for row in report["rows"] for event_id in row.get("event_ids", [])
    ]
    messages = await stream_events(partnership, len(named))
    events = {}
    for headers, msg in messages:
        event = decode(msg.data, subject=msg.subject)
        assert headers["Nats-Msg-Id"] == str(event.event_id)
        events[str(event.event_id)] = event
    assert set(events) == set(named)
    assert [events[i].type for i in named] == [
        "person.registered", "ehc.assessment_requested", "ehc.assessment_decided",
        "ehc.advice_requested",
    ]
    key = steps["person_key"]["person_key"]
    assert key == person_key(CHILD, KEY.encode())
    assert {e.person_key for e in events.values()} == {key}
    assert {e.source_org for e in events.values()} == {"856"}


@pytest.mark.parametrize("partnership", ["plain"], indirect=True)
async def test_the_node_example_says_at_once_when_the_service_is_not_running(
    partnership: Partnership,
) -> None:
    # given the LA's service stopped
    stop(partnership.service)
    # when the example runs
    code, lines, stderr = run_example(partnership, SENDX_EXAMPLE_RUN="2")
    # then its first request is answered by the server: no responders, nothing recorded
    assert code == 2, (lines, stderr)
    assert lines[-1]["step"] == "register"
    assert lines[-1]["code"] == "503"
    assert lines[-1]["error"].startswith(
        "no responders on send.cmd.856.person.register: the 856 service is not running"
    )


def test_a_wrong_password_is_refused_with_the_user_named(partnership: Partnership) -> None:
    code, lines, _ = run_example(partnership, SENDX_NATS_PASSWORD="not-the-password")
    assert code == 1
    assert lines == [{"step": "connect", "error": lines[0]["error"]}]
    assert "as la-856-client" in lines[0]["error"]
    assert "authorization" in lines[0]["error"].lower()


WITHOUT_INBOX_PREFIX = """
import { connect, JSONCodec } from "nats";
const nc = await connect({
  servers: process.env.NATS_URL, user: process.env.SENDX_NATS_USER,
  pass: process.env.SENDX_NATS_PASSWORD,
});
try {
  await nc.request("send.cmd.856.person.register", JSONCodec().encode({}), { timeout: 5000 });
  console.log("answered");
} catch (err) { console.log(`${err.code}: ${err.message}`); }
await nc.close();
"""


@pytest.mark.parametrize("partnership", ["plain"], indirect=True)
def test_without_the_inbox_prefix_the_server_refuses_the_reply_subscription(
    partnership: Partnership,
) -> None:
    # given a client that logs in correctly but keeps the default inbox prefix `_INBOX.`
    done = subprocess.run(
        [node(), "--input-type=module", "-e", WITHOUT_INBOX_PREFIX], cwd=EXAMPLE,
        env=partnership.env("la-856-client"), capture_output=True, text=True, timeout=60,
    )
    # then its request fails, naming the subscription the guide says it must not make
    assert done.stdout.startswith(
        'PERMISSIONS_VIOLATION: \'Permissions Violation for Subscription to "_INBOX.'
    ), (done.stdout, done.stderr)
