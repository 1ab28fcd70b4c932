"""Start, watch, restart and stop the processes of one partnership on this machine (`sendx run`).

Each organisation's service, the projectors (one per projection), the API and nats-server run
as separate OS processes, as they would in production. This module launches them, restarts one
that dies (after a backoff that grows with each failure in a row; every exit and restart is a
line in the run's log, `<log dir>/run.log`, and counted per process in the status file), and
stops exactly the PIDs it started (SIGTERM, then SIGKILL after a grace period).

Every child is started with `PR_SET_PDEATHSIG` (`runtime.parent_death`): if the supervisor
itself dies, however it dies, the kernel stops each child. Children are started from the main
thread only, because the kernel sends that signal when the forking *thread* ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from runtime.bus.nats_server import NatsServer
from runtime.parent_death import stop_with_parent


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a process that died: `first`, doubled with each
    failure in a row, at most `longest`; a process that ran `healthy_after` seconds before
    dying starts the count again (a crash once a day is not a crash loop)."""

    first: float = 1.0
    longest: float = 30.0
    healthy_after: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.longest, self.first * 2 ** max(0, failures - 1))


@dataclass
class Restarts:
    """What the supervisor knows of one process's life: the run's log and status file say it."""

    count: int = 0
    """Restarts so far (0: still the first start)."""
    failures: int = 0
    """Exits in a row, each before `Backoff.healthy_after`."""
    started_at: float = 0.0
    due_at: float | None = None
    """When the next start is due (monotonic); None while the process runs."""
    last_exit: int | None = None


def _only_from_the_main_thread(name: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{name} must be started from the main thread: the kernel stops a child when the "
            f"thread that started it ends (PR_SET_PDEATHSIG), not only the process"
        )


def describe_exit(code: int | None) -> str:
    if code is None:
        return "failed to start"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class ManagedProcess:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    restarts: Restarts = field(default_factory=Restarts)

    def start(self) -> None:
        _only_from_the_main_thread(self.name)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            # Own session: Ctrl-C reaches only the supervisor, which stops children in order;
            # stopped by the kernel if the supervisor dies without doing so.
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})}, start_new_session=True,
                preexec_fn=stop_with_parent(),
            )
        self.restarts.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_code(self) -> int | None:
        """The code it exited with, None while it runs (or before its first start)."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def stop(self, grace: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


@dataclass
class ManagedBus:
    """The embedded nats-server under the same watch: restarted on the same port and data
    directory, so every service, projector and the API reconnect to it by themselves."""

    server: NatsServer
    name: str = "nats-server"
    restarts: Restarts = field(default_factory=Restarts)

    @property
    def log(self) -> Path:
        return self.server.log_file or self.server.store_dir / "nats-server.log"

    @property
    def pid(self) -> int | None:
        return self.server.pid

    def start(self) -> None:
        _only_from_the_main_thread(self.name)
        self.server.preexec_fn = stop_with_parent()
        self.server.start()
        self.restarts.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.server.process is not None and self.server.process.poll() is None

    def exit_code(self) -> int | None:
        process = self.server.process
        return None if process is None else process.poll()

    def terminate(self) -> None:
        """Left to `stop`: the bus stops last, once everything using it has."""

    def stop(self, grace: float = 10.0) -> None:
        self.server.stop(grace)

    def reload(self) -> None:
        """Have the running server read its configuration again (SIGHUP)."""
        self.server.reload()


class Supervised(Protocol):
    name: str
    restarts: Restarts

    @property
    def pid(self) -> int | None: ...

    @property
    def log(self) -> Path: ...

    def start(self) -> None: ...

    def alive(self) -> bool: ...

    def exit_code(self) -> int | None: ...

    def terminate(self) -> None: ...

    def stop(self, grace: float = 10.0) -> None: ...


def sendx_command(*args: str) -> list[str]:
    """Run a `sendx` sub-command with this same interpreter (works without the script on PATH)."""
    return [sys.executable, "-m", "sendx.cli", *args]


def log_tail(log: Path, lines: int = 5) -> str:
    if not log.exists():
        return ""
    with open(log, "rb") as handle:
        handle.seek(max(0, log.stat().st_size - 4000))
        text = handle.read().decode(errors="replace")
    return "\n".join(f"    | {line}" for line in text.splitlines()[-lines:])


@dataclass
class Supervisor:
    log_dir: Path
    processes: list[Supervised] = field(default_factory=list)
    backoff: Backoff = field(default_factory=Backoff)
    status_file: Path | None = None
    """JSON written on every start and exit: each process's PID, restarts and last exit."""
    say: Callable[[str], None] | None = None
    """Where the run's log lines go besides `<log_dir>/run.log` (`sendx run`: its terminal)."""
    chores: list[Callable[[], None]] = field(default_factory=list)
    """Called on every poll while the supervisor watches (`sendx run`: follow the agreement
    file with the server's permissions). Short, and they must not raise."""

    def note(self, message: str) -> None:
        """One line of the run's log, time-stamped: exits, restarts, stops."""
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "run.log", "a") as out:
            out.write(line + "\n")
        if self.say is not None:
            self.say(line)

    def adopt(self, managed: Supervised) -> Supervised:
        """Start `managed` and watch it from now on."""
        managed.start()
        self.processes.append(managed)
        self.write_status()
        return managed

    def launch(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        managed = ManagedProcess(name, args, self.log_dir / f"{name}.log", env)
        self.adopt(managed)
        return managed

    def launch_projectors(
        self, projections: Sequence[str], env: dict[str, str] | None = None
    ) -> list[ManagedProcess]:
        """One `sendx projector --only <name>` per projection, named `projector-<name>`.

        Why not one projector for all: a fold is CPU-bound Python, and runners in one process
        share one GIL, so on a machine with spare cores each projection gets its own."""
        return [
            self.launch(f"projector-{name}", sendx_command("projector", "--only", name), env)
            for name in projections
        ]

    def check(self) -> None:
        """Raise naming the first process that died, with the tail of its log: while the run
        starts, a death is a configuration error, not something a restart mends."""
        for managed in self.processes:
            code = managed.exit_code()
            if code is not None:
                log = managed.log
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise RuntimeError(
                    f"{managed.name} (pid {managed.pid}) exited with code {code}; "
                    f"log {log}:\n{tail}"
                )

    def watch(self) -> None:
        """Restart every process that died once its backoff has passed; note each exit."""
        now = time.monotonic()
        for managed in self.processes:
            restarts = managed.restarts
            if restarts.due_at is None:
                code = managed.exit_code()
                if code is not None:
                    self._died(managed, code, now)
            elif now >= restarts.due_at:
                self._restart(managed)

    def _died(self, managed: Supervised, code: int | None, now: float) -> None:
        restarts = managed.restarts
        uptime = now - restarts.started_at
        restarts.failures = 1 if uptime >= self.backoff.healthy_after else restarts.failures + 1
        restarts.last_exit = code
        delay = self.backoff.delay(restarts.failures)
        restarts.due_at = now + delay
        self.note(
            f"{managed.name} (pid {managed.pid}) {describe_exit(code)} after {uptime:.1f}s; "
            f"restart {restarts.count + 1} in {delay:.1f}s; log {managed.log}:\n"
            f"{log_tail(managed.log)}"
        )
        self.write_status()

    def _restart(self, managed: Supervised) -> None:
        restarts = managed.restarts
        restarts.due_at = None
        restarts.count += 1
        restarts.started_at = time.monotonic()  # a start that fails counts as a failure in a row
        try:
            managed.start()
        except Exception as exc:  # noqa: BLE001 - noted and retried, the run goes on
            self.note(f"{managed.name}: restart {restarts.count} failed: {exc}")
            self._died(managed, None, time.monotonic())
            return
        self.note(f"restarted {managed.name} (pid {managed.pid}), restart {restarts.count}")
        self.write_status()

    def write_status(self) -> None:
        if self.status_file is None:
            return
        status = {
            "pid": os.getpid(),
            "processes": {
                m.name: {
                    "pid": m.pid if m.restarts.due_at is None else None,
                    "restarts": m.restarts.count,
                    "last_exit": m.restarts.last_exit,
                    "log": str(m.log),
                }
                for m in self.processes
            },
        }
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=2) + "\n")
        os.replace(tmp, self.status_file)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM to every process at once, then wait for each (SIGKILL after `grace`); the
        bus last, once nothing uses it."""
        for managed in self.processes:
            managed.terminate()
        for managed in reversed(self.processes):
            managed.stop(grace)
        self.write_status()

    def wait_forever(self, poll: float = 0.2) -> None:
        self.wait_until(lambda: False, poll)

    def wait_until(self, done: Callable[[], bool], poll: float = 0.2) -> None:
        """Watch (and restart) every process until `done()`; for ever with `wait_forever`."""
        while not done():
            self.watch()
            for chore in self.chores:
                chore()
            time.sleep(poll)
