"""`sendx.supervisor`: what `sendx run` does with a process that dies, and with itself.

Small stand-in children (a sleeping Python) instead of the partnership: the whole run is in
`tests/faults/test_embedded_run.py`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_harness import pid_alive

from sendx.data_dir_lock import DataDirInUse, DataDirLock
from sendx.supervisor import Backoff, ManagedProcess, Supervisor
from tests.waiting import eventually_sync

SLEEPER = [sys.executable, "-c", "import time; print('sleeping', flush=True); time.sleep(600)"]
QUICK = Backoff(first=0.01, longest=0.04, healthy_after=60.0)


def until(what: str, condition: Callable[[], object], timeout: float = 20.0) -> None:
    eventually_sync(condition, timeout, what=what, interval=0.01)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    watching = Supervisor(tmp_path / "logs", backoff=QUICK, status_file=tmp_path / "run.json")
    try:
        yield watching
    finally:
        watching.stop_all(grace=5)


def restarted(supervisor: Supervisor, name: str, count: int) -> Callable[[], bool]:
    def check() -> bool:
        supervisor.watch()
        managed = next(m for m in supervisor.processes if m.name == name)
        return managed.restarts.count == count and managed.alive()
    return check


def test_the_backoff_doubles_with_each_failure_in_a_row_up_to_its_longest() -> None:
    backoff = Backoff(first=1.0, longest=30.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_process_that_dies_is_restarted_and_its_exit_logged_and_counted(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    # given a supervised process
    first = supervisor.launch("sleeper", SLEEPER)
    old_pid = first.pid
    assert old_pid is not None
    # when it is killed outright, twice
    os.kill(old_pid, signal.SIGKILL)
    until("a first restart", restarted(supervisor, "sleeper", 1))
    second_pid = first.pid
    assert second_pid is not None
    os.kill(second_pid, signal.SIGKILL)
    until("a second restart", restarted(supervisor, "sleeper", 2))
    # then a new process runs each time, and the two quick deaths count as failures in a row
    assert len({old_pid, second_pid, first.pid}) == 3 and first.alive()
    assert first.restarts.failures == 2
    # and the run's log says what happened, and the status file counts it
    log = (tmp_path / "logs" / "run.log").read_text()
    assert f"sleeper (pid {old_pid}) was killed by SIGKILL" in log
    assert "restart 1 in 0.0s" in log and f"restarted sleeper (pid {first.pid}), restart 2" in log
    status = json.loads((tmp_path / "run.json").read_text())
    assert status["pid"] == os.getpid()
    assert status["processes"]["sleeper"] == {
        "pid": first.pid, "restarts": 2, "last_exit": -signal.SIGKILL, "log": str(first.log),
    }


def test_a_restart_that_cannot_start_is_noted_and_tried_again(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    # given a supervised process whose program has gone away since it started
    managed = supervisor.launch("sleeper", SLEEPER)
    managed.args = [str(tmp_path / "no-such-program")]
    assert managed.pid is not None
    os.kill(managed.pid, signal.SIGKILL)
    # when the supervisor tries to restart it
    until("two failed restarts", lambda: (supervisor.watch(), managed.restarts.count >= 2)[1])
    # then each failure is in the run's log, naming the program, and is retried
    log = (tmp_path / "logs" / "run.log").read_text()
    assert "sleeper: restart 1 failed" in log and "no-such-program" in log
    # and once the program is back, so is the process
    managed.args = SLEEPER
    until("the process back", lambda: (supervisor.watch(), managed.alive())[1])


def test_children_are_started_from_the_main_thread_only(tmp_path: Path) -> None:
    # the kernel stops a child when the *thread* that started it ends (PR_SET_PDEATHSIG)
    managed = ManagedProcess("sleeper", SLEEPER, tmp_path / "sleeper.log")
    failures: list[BaseException] = []

    def start() -> None:
        try:
            managed.start()
        except RuntimeError as exc:
            failures.append(exc)

    worker = threading.Thread(target=start)
    worker.start()
    worker.join(10)
    assert managed.process is None
    assert "must be started from the main thread" in str(failures[0])


def test_a_supervisor_killed_outright_takes_its_children_with_it(tmp_path: Path) -> None:
    # given a supervisor process with a child of its own, each in its own session
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sendx.supervisor import Supervisor\n"
        f"child = Supervisor(Path({str(tmp_path / 'logs')!r})).launch('sleeper', {SLEEPER!r})\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    repo = str(Path(__file__).resolve().parents[2])
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": repo})
    child_pid = None
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        until("the child running", lambda: "sleeping" in (tmp_path / "logs" / "sleeper.log")
              .read_text())
        # when the supervisor is killed, with no chance to stop anything
        parent.kill()
        parent.wait(10)
        # then the kernel stops its child
        until("the child gone", lambda: not pid_alive(child_pid))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if child_pid is not None and pid_alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)


def test_a_second_lock_on_a_data_dir_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with DataDirLock(tmp_path / "data"):
        # flock is per open file, so a second open in this same process is refused like
        # another run's would be
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(tmp_path / "data").acquire()
        assert f"data directory {tmp_path / 'data'} is in use" in str(refused.value)
        assert f"pid {os.getpid()}" in str(refused.value)
    # and released, the data directory can be taken again
    with DataDirLock(tmp_path / "data"):
        pass
