"""A projector applies its batches in a store worker process (`projections.reading.store_worker`):
the read model it builds is the one an in-process store builds, bad input is still dead-lettered,
a killed worker loses nothing (the batch is redelivered to a new worker), and a store that
cannot be opened says why."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import date
from functools import partial
from pathlib import Path

import pytest

from contracts.subjects import event_subject
from projections.dataset.projection import DATASET
from projections.dataset.store import DatasetStore
from projections.reading.rebuild import rebuild
from projections.reading.runner import ProjectionRunner
from projections.reading.store_worker import StoreWorker, StoreWorkerError, wanted
from runtime.bus.connection import connect_bus
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM
from tests.projections.conftest import FAST
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def dataset_worker(path: Path) -> StoreWorker:
    return StoreWorker("dataset", partial(DATASET.open_store, path))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def run_until(runner: ProjectionRunner, js, timeout: float = 30) -> None:
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    await eventually(lambda: runner.position >= last, timeout,
                     what="runner.position >= last", interval=0.02)


async def test_a_worker_builds_the_read_model_an_in_process_store_builds(
    nats_url, js, publish, events, tmp_path
) -> None:
    # given plans, requests and one event that is not valid JSON on the bus
    for day, child in enumerate(["amira", "ben", "cara", "dev"], start=1):
        await publish(events.assessment_requested(child, date(2025, 1, day)))
        await publish(events.plan_issued(child, date(2025, 5, day)))
    await js.publish(event_subject("856", "ehc.plan.issued", "p-bad"), b"{not json")
    await publish(events.plan_issued("eli", date(2025, 5, 20)))
    # when a runner applies them through a store worker
    nc = await connect_bus(nats_url, name="test-worker")
    worker = dataset_worker(tmp_path / "worker.sqlite").start()
    pid = worker.pid
    runner = ProjectionRunner(nc, "dataset", worker, FAST)
    task = asyncio.create_task(runner.run())
    try:
        await run_until(runner, js)
    finally:
        runner.stop()
        await task
        worker.close()
    # then the worker is gone, stopped by its PID
    assert pid is not None and not alive(pid)
    # and the bad message is in the dead-letter stream, with every valid event applied
    assert runner.dead_lettered == 1 and runner.dead_letter_reasons["bad_json"] == 1
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 1
    assert runner.applied == 9
    # and the read model equals a rebuild into a store in this process
    built = DatasetStore(tmp_path / "worker.sqlite")
    replayed = DatasetStore(tmp_path / "replayed.sqlite")
    await rebuild(nc, replayed)
    assert built.person_facts() == replayed.person_facts()
    assert built.position() == replayed.position() == runner.position
    built.close()
    replayed.close()
    await nc.close()


async def test_a_killed_worker_loses_no_event(nats_url, js, publish, events, tmp_path) -> None:
    # given a runner applying through a worker, caught up on a first plan
    nc = await connect_bus(nats_url, name="test-worker-killed")
    worker = dataset_worker(tmp_path / "worker.sqlite").start()
    runner = ProjectionRunner(nc, "dataset", worker, FAST)
    task = asyncio.create_task(runner.run())
    try:
        await publish(events.plan_issued("amira", date(2025, 5, 2)))
        await run_until(runner, js)
        first_pid = worker.pid
        # when the worker is killed and more events arrive
        os.kill(first_pid, signal.SIGKILL)
        for day, child in enumerate(["ben", "cara", "dev"], start=3):
            await publish(events.plan_issued(child, date(2025, 5, day)))
        await run_until(runner, js)
        # then a new worker applied them all, each once
        assert worker.pid != first_pid and not alive(first_pid)
        assert runner.applied == 4
    finally:
        runner.stop()
        await task
        worker.close()
    replayed = DatasetStore(tmp_path / "replayed.sqlite")
    await rebuild(nc, replayed)
    built = DatasetStore(tmp_path / "worker.sqlite")
    assert built.person_facts() == replayed.person_facts()
    built.close()
    replayed.close()
    await nc.close()


def test_a_store_that_cannot_be_opened_says_why(tmp_path) -> None:
    # given a store path inside a file, not a directory
    (tmp_path / "a-file").write_text("")
    worker = dataset_worker(tmp_path / "a-file" / "dataset.sqlite")
    # when the worker starts, then the error names the store worker and the cause
    with pytest.raises(StoreWorkerError, match="dataset store worker could not open its store"):
        worker.start()
    assert worker.pid is None


@pytest.mark.parametrize(("setting", "cores", "expected"), [
    ("on", 2, True), ("off", 8, False), ("auto", 2, False), ("auto", 4, True), ("", 8, True),
])
def test_a_live_projector_uses_a_worker_as_configured(monkeypatch, setting, cores, expected):
    # given SENDX_STORE_WORKER and the cores this process may use
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    # then auto gives a worker from four cores up, and on/off decide alone
    monkeypatch.setenv("SENDX_STORE_WORKER", setting)
    assert wanted() is expected


def test_a_bad_store_worker_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDX_STORE_WORKER", "sometimes")
    with pytest.raises(ValueError, match="SENDX_STORE_WORKER='sometimes': use on, off or auto"):
        wanted()
