"""End to end on a 3-node cluster: a node crashes while a partner sends commands to the LA
service, and every acknowledged event still reaches the dataset projection exactly once.

`test_cluster.py` proves this for raw publishes; here the events come from a real
`OrganisationService` (store, relay, command endpoint) and land in a real `ProjectionRunner`,
all connected to every node of the cluster so that they fail over.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import decode
from contracts.chain import chain_breaks
from contracts.topology import OrgKind
from projections.dataset.store import SqliteDatasetStore
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from runtime.bus.cluster import NatsCluster
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.client import ServiceClient, ServiceUnavailable
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))
from stories import PARTNERSHIP_KEY, person_fields  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PEOPLE = 30
FAST = ConsumerSettings(batch_size=50, fetch_timeout=0.2, retry_delay=0.2)


def nhs_number(n: int) -> str:
    """A valid NHS number (modulus 11 check digit) for person `n`."""
    while True:
        digits = [int(d) for d in f"{943000000 + n:09d}"]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)
        n += 1000


def commands(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(record_id, command, fields): register a person, request, decide and issue a plan."""
    nhs, case = nhs_number(n), f"856-C-{n}"
    return [
        (f"reg-{n}", "person.register", person_fields(nhs)),
        (f"req-{n}", "ehc.request_assessment", {
            "nhs_number": nhs, "case_id": case, "requested_on": "2025-01-06",
            "requested_by": "parent",
        }),
        (f"dec-{n}", "ehc.decide_assessment", {
            "case_id": case, "decided_on": "2025-02-10", "decision": "assess",
        }),
        (f"plan-{n}", "ehc.issue_plan", {
            "case_id": case, "plan_id": f"856-P-{n}", "issued_on": "2025-05-19",
            "primary_need": "ASD", "placement": "mainstream", "placement_provider": "120001",
        }),
    ]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster", size=3) as running:
        yield running


RETRIES: Counter[str] = Counter()
"""What had to be retried, by what (printed with `-s`, for seeing what the crash did)."""


async def retry(what: str, call: Any, deadline: float) -> Any:
    """Await `call()` until it succeeds: after a crash the cluster re-elects its leaders."""
    delay = 0.1
    while True:
        try:
            return await call()
        except (nats.errors.Error, TimeoutError, ServiceUnavailable) as exc:
            RETRIES[what.split("-")[0]] += 1
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what}: still failing at the deadline: {exc!r}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def send(client: ServiceClient, record_id: str, name: str, fields: dict[str, Any],
               deadline: float) -> dict[str, Any]:
    """Send one command, resending with the same record id when the reply was lost."""
    answer = await retry(record_id, lambda: client.command(name, fields, record_id), deadline)
    assert answer["ok"], answer
    return answer


async def until(what: str, check: Any, deadline: float) -> None:
    """`check` holds before `deadline` (loop time), through a bus that is electing a leader."""
    await eventually(
        check, timeout=deadline - asyncio.get_running_loop().time(), what=what, interval=0.2,
        ignore=(nats.errors.Error, TimeoutError),
    )


async def stream_bodies(js: JetStreamContext, last_seq: int) -> dict[int, tuple[str, bytes]]:
    """stream sequence -> (Nats-Msg-Id, body), read message by message (no consumer needed)."""
    stored: dict[int, tuple[str, bytes]] = {}
    for start in range(1, last_seq + 1, 100):
        seqs = range(start, min(start + 100, last_seq + 1))
        msgs = await asyncio.gather(*(js.get_msg(EVENTS_STREAM, seq) for seq in seqs))
        stored.update({m.seq: ((m.headers or {})["Nats-Msg-Id"], m.data) for m in msgs})
    return stored


async def test_a_node_crash_while_services_publish_loses_and_doubles_no_event_in_projections(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 50
    admin: Client = await connect_bus(cluster.urls, name="test-admin")
    js = admin.jetstream()
    await retry("ensure_streams", lambda: ensure_streams(js, replicas=3), deadline)
    partner = await connect_bus(cluster.urls, name="test-partner-856")
    client = ServiceClient(partner, "856", timeout=5)
    settings = Settings(
        data_dir=tmp_path / "data", store="sqlite", partnership_key=PARTNERSHIP_KEY,
        cipher_key=None,
    )
    # as an operator configures it: NATS_URL with every node, comma-separated
    service = OrganisationService(
        definition_for(OrgKind.LA), organisation("856"), settings=settings,
        nats_url=",".join(cluster.urls),
        poll_interval=0.1, metrics_port=0,
    )
    projection_nc = await connect_bus(cluster.urls, name="test-projection")
    store = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    runner = ProjectionRunner(projection_nc, "dataset", store, FAST)
    runner_task: asyncio.Task[None] | None = None
    event_ids: list[str] = []
    killed: tuple[str, int] | None = None
    try:
        await service.start()
        runner_task = asyncio.create_task(runner.run())
        # when a partner sends 4 commands for each of 30 people, and the stream leader crashes
        # half-way through
        for n in range(PEOPLE):
            if killed is None and n == PEOPLE // 2:
                leader = (await js.stream_info(EVENTS_STREAM)).cluster.leader
                killed = leader, cluster.kill(leader)
            for record_id, name, fields in commands(n):
                answer = await send(client, record_id, name, fields, deadline)
                event_ids += answer["event_ids"]
        # then the relay publishes every stored event, and the projection catches up
        async def relay_done() -> bool:
            last = service.app.recorder.max_notification_id()
            return service.relay is not None and service.relay.position.notification_id == last

        await until("the relay publishes everything", relay_done, deadline)
        info = await retry("stream_info", lambda: js.stream_info(EVENTS_STREAM), deadline)
        last_seq = info.state.last_seq

        async def projection_done() -> bool:
            return runner.position >= last_seq

        await until("the projection catches up", projection_done, deadline)
        stored = await retry("read stream", lambda: stream_bodies(js, last_seq), deadline)
    finally:
        runner.stop()
        if runner_task is not None:
            await asyncio.wait_for(asyncio.gather(runner_task, return_exceptions=True), 10)
        await service.stop()
        store.close()
        for nc in (projection_nc, partner, admin):
            await nc.close()

    print(f"killed {killed}; retries {dict(RETRIES)}; {last_seq} events")
    assert killed is not None and info.cluster.leader not in (killed[0], None)
    # the stream holds each event the service stored exactly once, in an unbroken chain
    assert len(event_ids) == len(set(event_ids)) == 4 * PEOPLE
    assert sorted(stored) == list(range(1, last_seq + 1)), "gaps in the stream sequence"
    ids_in_stream = [msg_id for msg_id, _ in stored.values()]
    assert Counter(ids_in_stream).most_common(1)[0][1] == 1, "an event is in the stream twice"
    assert set(ids_in_stream) == set(event_ids)
    ordered = [stored[seq][1] for seq in sorted(stored)]
    assert chain_breaks((body, decode(body)) for body in ordered) == []
    # and the projection applied every one of them exactly once
    with closing(sqlite3.connect(tmp_path / "dataset.sqlite")) as db:
        rows = db.execute("SELECT event_id, stream_seq FROM person_events").fetchall()
    seq_of = {msg_id: seq for seq, (msg_id, _) in stored.items()}
    assert len(rows) == len(event_ids), "the projection missed or repeated an event"
    assert {str(event_id): seq for event_id, seq in rows} == seq_of
