"""A store that cannot be written (a full disk, simulated with a file-size limit on the process):
the caller is told clearly, and nothing is half done — no event shared that was not stored, no
read-model position advanced without its data."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_harness import (
    Processes,
    child_story,
    nhs_numbers,
    projector_args,
    publish_event,
    scraped,
    service_args,
    table_digests,
)
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from projections.dataset.projection import DATASET
from projections.reading.rebuild import rebuild
from runtime.bus.nats_server import free_port
from runtime.bus.streams import EVENTS_STREAM
from services.endpoint.client import ServiceClient
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE_FILE_LIMIT = 160 * 1024
ROOM_TO_FILL = 64 * 1024
"""What the projector's disk holds beyond its empty store before it is full."""


def projector_file_limit(tmp_path: Path) -> int:
    """The largest file of an empty dataset store (its WAL grows with every fact table a read
    model adds) and `ROOM_TO_FILL`: measured, so a new table never silently fills the disk
    before the first event."""
    empty = tmp_path / "empty"
    empty.mkdir()
    store = DATASET.open_store(empty / "dataset.sqlite")
    sizes = [f.stat().st_size for f in empty.iterdir()]
    store.close()
    return max(sizes) + ROOM_TO_FILL


async def test_a_service_whose_disk_is_full_refuses_commands_clearly_and_shares_only_what_it_stored(
    nats_url: str, nc: Client, js: JetStreamContext, processes: Processes, tmp_path: Path
) -> None:
    # given the LA service running on a disk that fills up
    metrics_port = free_port()
    env = {"SENDX_DATA_DIR": str(tmp_path / "data"), "NATS_URL": nats_url,
           "SENDX_METRICS_PORT": str(metrics_port)}
    service = processes.start(
        "service", service_args(), env, file_size_limit=SERVICE_FILE_LIMIT
    )
    service.wait_for_output("commands on send.cmd.856.>")
    client = ServiceClient(nc, "856", timeout=10)
    # when a partner keeps registering children until the store refuses
    accepted: list[str] = []
    refused = None
    for n, nhs in enumerate(nhs_numbers(400)):
        fields = {"nhs_number": nhs, "given_name": "Test", "family_name": "Child",
                  "born_on": "2012-03-04"}
        reply = await client.command("person.register", fields, record_id=f"reg-{n}")
        if not reply["ok"]:
            refused = reply
            break
        accepted.extend(reply["event_ids"])
    # then the partner is told plainly that nothing was recorded and to send it again
    assert refused is not None, "the file-size limit was never reached"
    assert accepted, "the limit left no room for the first commands"
    assert "person.register: not recorded: the 856 service could not write to its store" in (
        refused["error"]
    )
    assert "send it again later" in refused["error"]
    # and exactly the stored commands' events are shared, none for the refused one
    # (once the stored ones are there and the relay has handled every notification its store
    # holds: lag 0 on /metrics, or it is retrying a checkpoint the full disk cannot take, which
    # holds back everything after it)
    async def relay_idle() -> bool:
        lag = await scraped(f"http://127.0.0.1:{metrics_port}", "sendx_relay_lag_notifications")
        shared = (await js.stream_info(EVENTS_STREAM)).state.messages
        stuck = any(f"relay 856: {error}; retrying" in service.output()
                    for error in ("disk I/O error", "database or disk is full"))
        return (lag == 0 or stuck) and shared >= len(accepted)

    await eventually(relay_idle, 30, what="the relay's lag to reach 0")
    count = (await js.stream_info(EVENTS_STREAM)).state.messages
    shared = [(await js.get_msg(EVENTS_STREAM, seq)).headers["Nats-Msg-Id"]
              for seq in range(1, count + 1)]
    assert sorted(shared) == sorted(accepted)
    # and the service is still up and answering
    unknown = await client.command("no_such.command", {})
    assert unknown["ok"] is False and "unknown command" in unknown["error"]
    assert service.process.poll() is None


async def test_a_projector_whose_disk_is_full_stalls_without_advancing_past_its_data(
    nats_url: str, nc: Client, js: JetStreamContext, processes: Processes, tmp_path: Path
) -> None:
    # given the dataset projector running on a disk that fills up
    db = tmp_path / "dataset.sqlite"
    projector = processes.start(
        "projector", projector_args(nats_url, db, batch_size=5),
        file_size_limit=projector_file_limit(tmp_path),
    )
    projector.wait_for_output("starting after stream sequence")
    # when more events arrive than its disk can hold
    position = 1
    for n in range(250):
        story = child_story(n, position)
        position += len(story)
        for envelope in story:
            await publish_event(js, envelope)
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    # then it says why in its log and stops applying, rather than skipping
    projector.wait_for_output("batch not applied; it will be redelivered", timeout=60)
    log = projector.output()
    assert "database or disk is full" in log or "disk I/O error" in log, log[-3000:]
    assert processes.stop(projector) == 0
    store = DATASET.open_store(db)
    stalled_at = store.position()
    store.close()
    assert 0 < stalled_at < last
    # and what it holds is exactly a replay up to its position: no position without its data
    partial = tmp_path / "partial.sqlite"
    replay = DATASET.open_store(partial)
    await rebuild(nc, replay, stop_seq=stalled_at)
    replay.close()
    assert table_digests(db) == table_digests(partial)
    # and once there is room again it catches up to a replay of the whole stream
    projector = processes.start("projector", projector_args(nats_url, db, batch_size=50))
    projector.wait_for_output("starting after stream sequence")

    async def caught_up() -> bool:
        try:
            info = await js.consumer_info(EVENTS_STREAM, f"projection-{DATASET.name}")
        except NotFoundError:  # the runner recreates its consumer after the store's position
            return False
        return info.ack_floor is not None and info.ack_floor.stream_seq >= last

    await eventually(caught_up, timeout=60, interval=0.1)
    assert processes.stop(projector) == 0
    full = tmp_path / "full.sqlite"
    replay = DATASET.open_store(full)
    await rebuild(nc, replay)
    replay.close()
    assert table_digests(db) == table_digests(full)
