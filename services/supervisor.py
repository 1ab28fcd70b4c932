"""Start, watch and stop the processes of one partnership on this machine (`sendx run`).

Each organisation's service, the projectors (one per projection) and the API run as separate OS
processes, as they would in production; this module only launches them, remembers their PIDs
and stops exactly those PIDs (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ManagedProcess:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            # Own session: Ctrl-C reaches only the supervisor, which stops children in order.
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})}, start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

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


def sendx_command(*args: str) -> list[str]:
    """Run a `sendx` sub-command with this same interpreter (works without the script on PATH)."""
    return [sys.executable, "-m", "services.cli", *args]


@dataclass
class Supervisor:
    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def launch(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        managed = ManagedProcess(name, args, self.log_dir / f"{name}.log", env)
        managed.start()
        self.processes.append(managed)
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
        """Raise naming the first process that died, with the tail of its log."""
        for managed in self.processes:
            if managed.process is not None and managed.process.poll() is not None:
                log = managed.log
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise RuntimeError(
                    f"{managed.name} (pid {managed.pid}) exited with code "
                    f"{managed.process.returncode}; log {managed.log}:\n{tail}"
                )

    def stop_all(self) -> None:
        for managed in reversed(self.processes):
            managed.stop()

    def wait_forever(self, poll: float = 1.0) -> None:
        while True:
            self.check()
            time.sleep(poll)
