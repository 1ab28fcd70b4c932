"""Three projector workers, one per partition of the people, one killed with SIGKILL mid-stream
and replaced: the shared read model ends as one from-scratch replay of SEND_EVENTS. On SQLite
(the embedded default) and on PostgreSQL (`SENDX_STORE=postgres`, a database of the test's own)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fault_harness import PUBLISH_TIMEOUT, Child, Processes
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.subjects import event_subject, parse_event_subject
from projections.audit.digest import POSITION_TABLE, store_contents
from projections.dataset.projection import DATASET
from projections.reading.partitions import Partition
from projections.reading.rebuild import rebuild
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM
from sendx.demo.population import generate_wire
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = [Partition(i, 3) for i in range(3)]
SENDX = str(Path(sys.executable).parent / "sendx")


def start_worker(processes: Processes, partition: Partition, env: dict[str, str]) -> Child:
    """`sendx projector` for the dataset, applying only `partition`'s people."""
    args = [SENDX, "projector", "--only", "dataset", "--metrics-port", "0",
            "--partition", str(partition.index), "--partitions", str(partition.count)]
    worker = processes.start(f"worker-{partition.name}", args, env)
    worker.wait_for_output("starting after stream sequence", timeout=30)
    return worker


def committed_in_sqlite(db: Path) -> dict[str, int]:
    """Each partition's committed position, read as the API would (read-only)."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return dict(conn.execute("SELECT partition_name, seq FROM partition_position"))
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    finally:
        conn.close()


def committed_in_postgres(dsn: str, schema: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            rows = conn.execute(f'SELECT partition_name, seq FROM "{schema}".partition_position')
        except psycopg.errors.UndefinedTable:  # no worker has created it yet
            return {}
        return {name: int(seq) for name, seq in rows}


@dataclass(frozen=True)
class SharedReadModel:
    """Where the workers keep the dataset: the environment they get, and how to read it."""

    env: dict[str, str]
    location: Path | str
    schema: str
    committed: Callable[[], dict[str, int]]


@pytest.fixture(params=["sqlite", "postgres"])
def shared_read_model(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedReadModel]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        db = data_dir / "projection-dataset.sqlite"
        yield SharedReadModel({"SENDX_DATA_DIR": str(data_dir)}, db, "sendx_dataset",
                              lambda: committed_in_sqlite(db))
        return
    with postgres_database(request.getfixturevalue("postgres_dsn")) as dsn:
        env = {"SENDX_DATA_DIR": str(data_dir), "SENDX_STORE": "postgres",
               "SENDX_READ_MODEL_DSN": dsn}
        yield SharedReadModel(env, dsn, "sendx_dataset",
                              lambda: committed_in_postgres(dsn, "sendx_dataset"))


@contextmanager
def postgres_database(server_dsn: str) -> Iterator[str]:
    """A database of this test's own (the workers' schemas are fixed: `sendx_<projection>`)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def publish_population(
    js: JetStreamContext, owners: dict[int, str], junk_every: int = 400
) -> int:
    """The tiny population in delivery order, a malformed event every `junk_every`, paced so a
    kill lands mid-stream; records each sequence's person in `owners`. Returns the junk count."""
    junk = 0
    for n, wire in enumerate(generate_wire("tiny", 11), start=1):
        person = parse_event_subject(wire.subject).person_key
        ack = await js.publish(wire.subject, wire.data, headers={"Nats-Msg-Id": wire.msg_id},
                               timeout=PUBLISH_TIMEOUT)
        owners[ack.seq] = person
        if n % junk_every == 0:
            bad = await js.publish(event_subject("856", "ehc.plan_issued", person), b'{"oops"',
                                   timeout=PUBLISH_TIMEOUT)
            owners[bad.seq] = person
            junk += 1
        if n % 40 == 0:
            await asyncio.sleep(0.02)
    return junk


async def test_a_worker_killed_mid_stream_and_replaced_leaves_the_read_model_of_a_replay(
    nats_url: str, nc: Client, js: JetStreamContext, processes: Processes, tmp_path: Path,
    shared_read_model: SharedReadModel,
) -> None:
    # given three dataset workers, one per partition, sharing one store
    env = {**shared_read_model.env, "NATS_URL": nats_url}
    committed = shared_read_model.committed
    workers = {p: start_worker(processes, p, env) for p in PARTITIONS}
    # when the population streams in and partition 1's worker is killed with SIGKILL as it applies
    owners: dict[int, str] = {}
    publishing = asyncio.create_task(publish_population(js, owners))
    victim = PARTITIONS[1]
    await eventually(lambda: committed().get(victim.name, 0) > 300, timeout=60, interval=0.1)
    assert not publishing.done(), "the stream ended before the kill"
    processes.kill(workers[victim])
    killed_at = committed()[victim.name]
    workers[victim] = start_worker(processes, victim, env)
    junk = await publishing
    # then every partition applies everything it owns
    last_owned = {p.name: max(s for s, person in owners.items() if p.owns(person))
                  for p in PARTITIONS}
    await eventually(lambda: committed() == last_owned, timeout=60, interval=0.1)
    assert killed_at < last_owned[victim.name]
    for worker in workers.values():
        assert processes.stop(worker) == 0
    # and the shared read model is table for table a from-scratch replay of SEND_EVENTS
    replayed_path = tmp_path / "replayed.sqlite"
    replayed = DATASET.open_store(replayed_path)
    report = await rebuild(nc, replayed)
    assert report.position == (await js.stream_info(EVENTS_STREAM)).state.last_seq
    shared = DATASET.open_store(shared_read_model.location, schema=shared_read_model.schema)
    live, rebuilt = store_contents(shared), store_contents(replayed)
    shared.close()
    replayed.close()
    digests = {name: t.digest for name, t in live.tables.items() if name != POSITION_TABLE}
    assert digests == {n: t.digest for n, t in rebuilt.tables.items() if n != POSITION_TABLE}
    # and each event appears once, under the person it is about
    events = live.tables["person_events"].rows
    assert len(events) == len(owners) - junk == report.applied
    assert all(owners[stream_seq] == person for _, person, stream_seq, _ in events)
    # and each malformed event was dead-lettered once, despite the kill
    assert junk >= 5
    assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == junk
