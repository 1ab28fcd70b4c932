"""`sendx run` survives its children, and leaves none behind: the whole embedded partnership as
`make run` starts it, with processes killed by PID as a crash or the OOM killer would.

One run is shared by the tests in file order (starting ten processes costs the most); the last
test kills it outright and starts the next run on the same data directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fault_harness import nhs_numbers, pid_alive

from projections.catalogue import CATALOGUE
from projections.serving.processes import open_store
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for
from runtime.bus.nats_server import free_port
from runtime.bus.streams import EVENTS_STREAM
from sendx.commands.run import port_is_free
from sendx.supervisor import sendx_command
from services.endpoint.client import ServiceClient
from tests.waiting import eventually, eventually_sync

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STARTED = "Press Ctrl-C to stop everything."
READY = {
    "service": "commands on send.cmd.", "api": "Application startup complete",
    "projector": "starting after stream sequence", "nats": "Server is ready",
}
"""The line each kind of process logs once it serves: a restart is complete when it is there."""
TOKEN = re.compile(r"^\s+(\w+)\s+(\S+)\s+(sendx_\S+)\s", re.MULTILINE)


def wait_for(what: str, condition: Callable[[], object], timeout: float = 60.0) -> object:
    """Poll `condition` until it is truthy (a PID, a line, a port): bounded, never a sleep."""
    return eventually_sync(condition, timeout, what=what)


@dataclass
class EmbeddedRun:
    """One `sendx run` process, its ports and data directory, read through what it prints and
    the status file it keeps (`<data dir>/run.json`)."""

    process: subprocess.Popen
    data_dir: Path
    output_file: Path
    port: int
    nats_port: int

    @classmethod
    def start(cls, data_dir: Path, port: int, nats_port: int, name: str) -> EmbeddedRun:
        output = data_dir.parent / f"{name}.out"
        with open(output, "ab") as out:
            process = subprocess.Popen(
                sendx_command("run", "--data-dir", str(data_dir), "--port", str(port),
                              "--nats-port", str(nats_port)),
                stdout=out, stderr=subprocess.STDOUT,
            )
        run = cls(process, data_dir, output, port, nats_port)
        wait_for("started run", lambda: run.says(STARTED), timeout=180)
        return run

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def output(self) -> str:
        return self.output_file.read_text(errors="replace")

    def says(self, text: str) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"sendx run exited ({self.process.returncode}):\n"
                                 f"{self.output()[-3000:]}")
        return text in self.output()

    def status(self) -> dict[str, dict]:
        return json.loads((self.data_dir / "run.json").read_text())["processes"]

    def pid_of(self, name: str) -> int | None:
        return self.status()[name]["pid"]

    def child_pids(self) -> list[int]:
        return [p["pid"] for p in self.status().values() if p["pid"] is not None]

    def tokens(self) -> dict[str, str]:
        """What it printed for each holder to sign in with: role/org -> token."""
        return {f"{role}/{org}": token for role, org, token in TOKEN.findall(self.output())}

    def kill_child(self, name: str) -> int:
        """SIGKILL one child by PID; return the PID of the process started in its place, once
        that serves (its log has one more line saying so)."""
        old = self.pid_of(name)
        assert old is not None and pid_alive(old)
        before = self.status()[name]
        log, ready = Path(before["log"]), READY[name.split("-")[0]]
        served = log.read_text(errors="replace").count(ready)
        os.kill(old, signal.SIGKILL)
        new = wait_for(
            f"{name} restarted",
            lambda: self.status()[name]["restarts"] == before["restarts"] + 1
            and self.pid_of(name),
        )
        assert isinstance(new, int) and new != old
        wait_for(f"{name} serving again",
                 lambda: log.read_text(errors="replace").count(ready) > served)
        return new

    def clean_up(self) -> None:
        """Whatever a failed test left: the run, then any child it reported, by PID."""
        children = self.child_pids() if (self.data_dir / "run.json").exists() else []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in children:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """The shared run's data directory and ports (the last test starts a run there again)."""
    return tmp_path_factory.mktemp("embedded") / "data", free_port(), free_port()


@pytest.fixture(scope="module")
def run(places: tuple[Path, int, int]) -> Iterator[EmbeddedRun]:
    data_dir, port, nats_port = places
    started = EmbeddedRun.start(data_dir, port, nats_port, "first")
    try:
        yield started
    finally:
        started.clean_up()


def register(nhs_number: str) -> dict[str, str]:
    return {"nhs_number": nhs_number, "given_name": "Test", "family_name": "Child",
            "born_on": "2012-03-04"}


async def send_command(run: EmbeddedRun, org: str, nhs_number: str, record_id: str) -> dict:
    """What a partner system sends, logged in as that organisation's client."""
    login = credentials_for(f"la-{org}-client", run.data_dir)
    async with await ServiceClient.connect(run.nats_url, org, credentials=login,
                                           timeout=20) as client:
        return await client.command("person.register", register(nhs_number), record_id=record_id)


async def published_ids(run: EmbeddedRun) -> set[str]:
    """The event ids on SEND_EVENTS, as the partnership's auditor reads them."""
    nc = await connect_bus(run.nats_url, name="test-auditor",
                           **credentials_for("auditor", run.data_dir))
    try:
        js = nc.jetstream()
        count = (await js.stream_info(EVENTS_STREAM)).state.messages
        messages = [await js.get_msg(EVENTS_STREAM, seq) for seq in range(1, count + 1)]
        return {m.headers["Nats-Msg-Id"] for m in messages if m.headers}
    finally:
        await nc.close()


async def published(run: EmbeddedRun, event_ids: list[str]) -> None:
    async def all_there() -> bool:
        return set(event_ids) <= await published_ids(run)

    await eventually(all_there, 60, what=f"{len(event_ids)} events published", interval=0.1)


def healthz(run: EmbeddedRun) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{run.port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def tracker_position(run: EmbeddedRun) -> int:
    projection = next(p for p in CATALOGUE if p.name == "tracker")
    store = open_store(projection, run.data_dir / f"projection-{projection.name}.sqlite")
    try:
        return store.position()
    finally:
        store.close()


def test_a_second_run_on_the_same_data_dir_is_refused_naming_the_run_holding_it(
    run: EmbeddedRun,
) -> None:
    # when a second `sendx run` is started on the running one's data directory (other ports)
    second = subprocess.run(
        sendx_command("run", "--data-dir", str(run.data_dir), "--port", str(free_port()),
                      "--nats-port", str(free_port())),
        capture_output=True, text=True, timeout=60,
    )
    # then it refuses at once, naming the data directory and the PID of the run holding it
    assert second.returncode == 2, second
    assert f"data directory {run.data_dir} is in use" in second.stderr
    assert f"pid {run.process.pid}" in second.stderr
    # and the first run serves on, its nats-server untouched
    assert healthz(run) and pid_alive(run.pid_of("nats-server") or 0)


@pytest.mark.parametrize("flag", ["--nats-port", "--port"])
def test_a_busy_port_given_explicitly_is_refused_with_the_port_named(
    run: EmbeddedRun, tmp_path: Path, flag: str
) -> None:
    # given the ports the running run holds, and another data directory
    busy = run.nats_port if flag == "--nats-port" else run.port
    other = {"--nats-port": free_port(), "--port": free_port(), flag: busy}
    # when a run is asked for one of them
    refused = subprocess.run(
        sendx_command("run", "--data-dir", str(tmp_path / "data"),
                      *(str(a) for pair in other.items() for a in pair)),
        capture_output=True, text=True, timeout=60,
    )
    # then it refuses, naming the flag and the port, and starts no bus of its own
    assert refused.returncode == 2, refused
    assert f"{flag} {busy}: port {busy} on 127.0.0.1 is in use" in refused.stderr
    assert not (tmp_path / "data" / "nats").exists()


async def test_a_killed_service_is_restarted_and_its_partner_is_answered(
    run: EmbeddedRun,
) -> None:
    # when LA 856's service process is killed outright
    new_pid = run.kill_child("service-856")
    # then the run's log says so, with the restart counted, and the run goes on
    log = (run.data_dir / "logs" / "run.log").read_text()
    assert "service-856 (pid" in log and "was killed by SIGKILL" in log
    assert f"restarted service-856 (pid {new_pid}), restart 1" in run.output()
    # and the partner's next command is answered by the new process and published
    reply = await send_command(run, "856", nhs_numbers(1, seed=11)[0], "after-service-kill")
    assert reply["ok"], reply
    await published(run, reply["event_ids"])


def test_a_killed_api_is_restarted_and_serves_again(run: EmbeddedRun) -> None:
    run.kill_child("api")
    wait_for("the restarted API's /healthz", lambda: healthz(run))
    assert run.status()["api"]["last_exit"] == -signal.SIGKILL


def test_a_partners_delivery_routes_are_served_through_the_couriers_login(
    run: EmbeddedRun,
) -> None:
    # given LA 856's token as the run printed it
    token = run.tokens()["partner/856"]

    def get(path: str) -> tuple[int, dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{run.port}{path}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())

    # when it reads its feed, its webhook dead letters and the alert counts
    # then each is answered (the API reads those streams as `courier`, which the run wired in;
    # with the dashboard's login the server refuses the reads and the routes answer 503)
    status, feed = get("/api/deliveries/feed?after=0&limit=5")
    assert (status, feed["org"], feed["source"]) == (200, "856", "feed")
    assert get("/api/deliveries/webhooks/deadletters")[0] == 200
    status, counts = get("/api/alerts/counts")
    assert status == 200 and "counts" in counts


async def test_a_killed_projector_is_restarted_and_its_read_model_catches_up(
    run: EmbeddedRun,
) -> None:
    # given the tracker's read model where it stands
    before = tracker_position(run)
    # when its projector is killed, and a registration published meanwhile
    run.kill_child("projector-tracker")
    reply = await send_command(run, "855", nhs_numbers(2, seed=12)[1], "after-projector-kill")
    assert reply["ok"], reply
    # then the restarted projector applies it
    wait_for("the tracker past the new event", lambda: tracker_position(run) > before)


async def test_a_killed_nats_server_is_restarted_on_its_port_and_services_reconnect(
    run: EmbeddedRun,
) -> None:
    # given the tracker's read model where it stands, and how often each user of the bus
    # was restarted so far
    before = tracker_position(run)
    users = ("service-857", "projector-tracker", "api")
    restarts = [run.status()[name]["restarts"] for name in users]
    # when nats-server is killed outright
    old = run.pid_of("nats-server")
    run.kill_child("nats-server")
    # then it listens again on the same port, its streams kept in the same data directory
    assert old not in run.child_pids()
    assert f"restarted nats-server (pid {run.pid_of('nats-server')})" in run.output()
    # and a service, reconnected by itself, answers its partner and publishes the event
    reply = await send_command(run, "857", nhs_numbers(3, seed=13)[2], "after-bus-kill")
    assert reply["ok"], reply
    await published(run, reply["event_ids"])
    # and the projector, reconnected too, applies it; the API answers
    wait_for("the tracker past the new event", lambda: tracker_position(run) > before)
    assert healthz(run)
    # and none of them was restarted: each reconnected by itself
    assert [run.status()[name]["restarts"] for name in users] == restarts


def test_a_killed_run_leaves_no_child_and_the_next_run_on_its_data_dir_keeps_its_tokens(
    run: EmbeddedRun, places: tuple[Path, int, int]
) -> None:
    # given every process the run started, and the tokens it printed
    children = run.child_pids()
    # nats, 7 services, 2 projectors, alerts, feeds, API
    assert len(children) == len(run.status()) == 13
    tokens = run.tokens()
    assert len(tokens) == 10  # 7 organisations, the auditor, the dashboard, the operator
    # when `sendx run` itself is killed outright (no chance to stop anything)
    run.process.kill()
    run.process.wait(10)
    # then every child it started is gone, by PID, and the NATS port is free again
    wait_for("every child gone", lambda: not [p for p in children if pid_alive(p)], timeout=60)
    assert port_is_free(run.nats_port) and port_is_free(run.port)
    # and the next run on the same data directory starts on the same ports (no lock left)
    data_dir, port, nats_port = places
    again = EmbeddedRun.start(data_dir, port, nats_port, "second")
    try:
        # and prints the same tokens
        assert again.tokens() == tokens
        # and when its terminal closes (SIGHUP; SIGTERM and Ctrl-C alike) it stops every process
        # it started, then exits 0
        children = again.child_pids()
        again.process.send_signal(signal.SIGHUP)
        assert again.process.wait(60) == 0
        assert "stopped every process started by sendx run" in again.output()
        assert not [p for p in children if pid_alive(p)]
    finally:
        again.clean_up()
