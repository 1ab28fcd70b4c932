"""Helpers for the fault tests: real processes started, killed and stopped by PID, read-model
digests, and the events and NHS numbers the tests feed in.

`Processes` copies each child's output to a log file from this process, so a child running
with a file-size limit (a full disk, simulated) can still be read.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from contracts import Envelope, Payload, encode
from contracts.ehc import AssessmentRequested, PlanCeased, PlanIssued
from contracts.health import EhcPlanFlagSet
from contracts.subjects import event_subject
from services.domain.identity import nhs_check_digit
from tests.waiting import logged_sync

HERE = Path(__file__).parent
PROJECTOR = HERE / "projector_process.py"
SERVICE = HERE / "service_process.py"


@dataclass
class Child:
    """One started process and the log its output is copied to."""

    name: str
    process: subprocess.Popen
    log: Path
    _copier: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 20.0) -> None:
        logged_sync(self.process, self.log, text, timeout)


@dataclass
class Processes:
    log_dir: Path
    started: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        *,
        file_size_limit: int | None = None,
    ) -> Child:
        """Start `args`; with `file_size_limit` (bytes) no file it writes can grow past it."""

        def limit() -> None:
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        log = self.log_dir / f"{name}-{len(self.started)}.log"
        process = subprocess.Popen(
            args,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,
        )
        child = Child(name, process, log)
        child._copier = threading.Thread(target=_copy, args=(process, log), daemon=True)
        child._copier.start()
        self.started.append(child)
        return child

    def kill(self, child: Child) -> None:
        """SIGKILL by PID, as a crash or the OOM killer would."""
        if child.process.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.process.wait(10)

    def stop(self, child: Child, timeout: float = 15.0) -> int:
        """SIGTERM by PID (a clean stop), SIGKILL if it does not exit in time."""
        if child.process.poll() is None:
            os.kill(child.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(child)
        if child._copier is not None:
            child._copier.join(5)
        return child.process.returncode

    def stop_all(self) -> None:
        for child in self.started:
            self.stop(child)


def _copy(process: subprocess.Popen, log: Path) -> None:
    assert process.stdout is not None
    with open(log, "ab") as out:
        for line in iter(process.stdout.readline, b""):
            out.write(line)
            out.flush()


def pid_alive(pid: int) -> bool:
    """Whether `pid` still runs; a zombie (dead, not yet reaped by whoever inherited it) is
    gone. For children of a killed process, which this test process cannot `wait` for."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def projector_args(nats_url: str, db: Path, batch_size: int = 10) -> list[str]:
    return [sys.executable, str(PROJECTOR), nats_url, str(db), str(batch_size)]


def service_args(org: str = "856", kind: str = "la") -> list[str]:
    return [sys.executable, str(SERVICE), kind, org]


def table_digests(db: Path) -> dict[str, str]:
    """SHA-256 of each table's rows (sorted): equal digests = equal read models."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        digests = {}
        for table in tables:
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            digests[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return digests
    finally:
        conn.close()


def nhs_numbers(count: int, seed: int = 7) -> list[str]:
    """Distinct valid NHS numbers in the range the NHS reserves for testing."""
    rng, found = random.Random(seed), dict[str, None]()
    while len(found) < count:
        first_nine = f"999{rng.randrange(10**6):06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            found[f"{first_nine}{check}"] = None
    return list(found)


def person_key(n: int) -> str:
    return "p_" + hashlib.md5(f"child-{n}".encode()).hexdigest()


def _wrap(payload: Payload, n: int, org: str, on: date, position: int) -> Envelope:
    at = datetime.combine(on, clock(9), UTC)
    return Envelope.wrap(
        payload, source_org=org, person_key=person_key(n), occurred_at=at,
        recorded_at=at + timedelta(hours=1), source_position=position,
    )


def child_story(n: int, position: int) -> list[Envelope]:
    """A request, a plan (some ceased), and the health record's flag: 3-4 events per child."""
    requested = date(2024, 1, 1) + timedelta(days=n % 300)
    issued = requested + timedelta(weeks=14 + n % 12)
    events = [
        _wrap(AssessmentRequested(case_id=f"C{n}", requested_on=requested,
                                  requested_by="parent"), n, "856", requested, position),
        _wrap(PlanIssued(case_id=f"C{n}", plan_id=f"P{n}", issued_on=issued,
                         primary_need="ASD", placement="mainstream"), n, "856", issued,
              position + 1),
        _wrap(EhcPlanFlagSet(set_on=issued + timedelta(days=20), la_code="856"), n, "QK1",
              issued + timedelta(days=20), position + 2),
    ]
    if n % 5 == 0:
        ceased = issued + timedelta(days=200)
        events.append(_wrap(PlanCeased(plan_id=f"P{n}", ceased_on=ceased, reason="needs_met"),
                            n, "856", ceased, position + 3))
    return events


PUBLISH_TIMEOUT = 30.0
"""Seconds a test publish waits for JetStream's ack: the default 5 s expires on a loaded machine
(a kill test's stream then stops short and the test waits for an ack floor that never comes)."""


async def publish_event(js: JetStreamContext, envelope: Envelope) -> int:
    subject = event_subject(envelope.source_org, envelope.type, envelope.person_key)
    headers = {"Nats-Msg-Id": str(envelope.event_id)}
    ack = await js.publish(subject, encode(envelope), headers=headers, timeout=PUBLISH_TIMEOUT)
    return ack.seq


async def scraped(metrics_url: str, name: str) -> float | None:
    """One sample of a process's `/metrics` (the first of the family `name`); None while the
    process is not serving yet."""
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(f"{metrics_url}/metrics")
    except httpx.TransportError:
        return None
    for family in text_string_to_metric_families(response.text):
        if family.name == name and family.samples:
            return family.samples[0].value
    return None
