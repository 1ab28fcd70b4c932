"""Tamper evidence: every source's hash chain over the stream, and verdicts that name the event.

SEND_EVENTS denies deletes and purges, so tampering is simulated the way an insider with disk
or admin access would leave it: the history is copied message by message into a second
nats-server with one message altered, dropped or moved, and the auditor runs against that
server. A forged event needs no simulation: it is published on the live stream like any other
(valid envelope, wrong chain).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.chain import bytes_hash
from contracts.subjects import event_subject
from projections.audit.stream import StoredMessage
from projections.audit.tamper import chain_findings, check_chains, link_of
from projections.catalogue import projection_named
from projections.reading.rebuild import rebuild
from runtime.bus.nats_server import NatsServer
from sendx.demo.population import WireEvent
from tests.projections.audit.conftest import (
    body,
    copy_history,
    publish_wire,
    run_sendx_audit,
    source_run,
    tiny_population,
    with_body,
)

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def stored_population() -> list[StoredMessage]:
    return [StoredMessage(i, w.subject, w.data, NOW) for i, w in enumerate(tiny_population(), 1)]


def findings_of(messages: list[StoredMessage]) -> list:
    return chain_findings(link_of(m) for m in messages)[0]


# ------------------------------------------------------------------ verdicts (pure, no server)
def test_an_untouched_history_has_no_findings_and_a_head_per_source() -> None:
    # given the realistic population, every source chaining its own log
    messages = stored_population()

    # when the chains are checked
    findings, heads = chain_findings(link_of(m) for m in messages)

    # then nothing is wrong, and each source's head is its last event
    assert findings == []
    assert {h.source_org for h in heads} >= {"856", "855", "QK1", "RT5"}
    last_rt5 = [m for m in messages if ".RT5." in m.subject][-1]
    assert next(h for h in heads if h.source_org == "RT5").hash == bytes_hash(last_rt5.data)


def test_an_altered_event_is_named_with_its_source_position_and_sequence() -> None:
    # given one trust event whose occurred_at was changed after publication
    messages = stored_population()
    _, target, after = source_run(messages, "RT5", 40, 3)
    messages[target] = with_body(messages[target], {"occurred_at": "2019-01-01T00:00:00Z"})

    # when the chains are checked
    findings = findings_of(messages)

    # then exactly that event is named as altered
    assert [(f.kind, f.source_org, f.stream_seq, f.event_id) for f in findings] == [
        ("altered", "RT5", messages[target].seq, body(messages[target])["event_id"])
    ]
    assert findings[0].source_position == body(messages[target])["source_position"]
    assert f"stream sequence {messages[after].seq}" in findings[0].detail


def test_a_dropped_event_is_named_by_the_positions_either_side() -> None:
    # given one LA event removed from the history
    messages = stored_population()
    before, dropped, after = source_run(messages, "856", 30, 3)
    position = body(messages[dropped])["source_position"]
    del messages[dropped]

    # when the chains are checked
    findings = findings_of(messages)

    # then the gap is named: the missing position and the event that reveals it
    assert [(f.kind, f.source_org, f.source_position) for f in findings] == [
        ("missing", "856", position)
    ]
    assert findings[0].stream_seq == messages[after - 1].seq
    assert f"between source positions {position - 1} " in findings[0].detail


def test_a_reordered_event_is_named() -> None:
    # given two consecutive ICB events stored in swapped order
    messages = stored_population()
    first, second = source_run(messages, "QK1", 20, 2)
    messages[first], messages[second] = messages[second], messages[first]

    # when the chains are checked
    findings = findings_of(messages)

    # then the one stored late is named as reordered
    assert [(f.kind, f.event_id) for f in findings] == [
        ("reordered", body(messages[second])["event_id"])
    ]


def test_an_inserted_forgery_is_named_and_the_chain_around_it_is_not_blamed() -> None:
    # given a valid-looking trust event slipped in between two genuine ones, claiming the
    # position of the genuine event before it
    messages = stored_population()
    genuine, _ = source_run(messages, "RT5", 10, 2)
    forged = with_body(messages[genuine], {"event_id": str(uuid.uuid4()), "prev_hash": "0" * 64})
    messages.insert(genuine + 1, forged)

    # when the chains are checked
    findings = findings_of(messages)

    # then only the forgery is named, with the position it usurped
    assert [(f.kind, f.event_id) for f in findings] == [("forged", body(forged)["event_id"])]
    assert "held by event " + body(messages[genuine])["event_id"] in findings[0].detail


def test_an_event_claiming_another_sources_identity_is_forged() -> None:
    # given an event on the trust's subject whose body says it comes from the ICB
    messages = stored_population()
    (target,) = source_run(messages, "RT5", 5, 1)
    messages[target] = with_body(messages[target], {"source_org": "QK1"})

    # when the chains are checked
    findings = findings_of(messages)

    # then the impostor is named (and the trust chain it left shows the gap as altered)
    assert ("forged", "QK1", messages[target].seq) in [
        (f.kind, f.source_org, f.stream_seq) for f in findings
    ]


def test_the_same_event_stored_twice_is_a_duplicate() -> None:
    # given an LA event stored a second time (outside the duplicate window)
    messages = stored_population()
    (target,) = source_run(messages, "855", 7, 1)
    messages.append(StoredMessage(len(messages) + 1, messages[target].subject,
                                  messages[target].data, NOW))

    # when the chains are checked
    findings = findings_of(messages)

    # then the second copy is named as a duplicate of the first
    assert [(f.kind, f.stream_seq) for f in findings] == [("duplicate", len(messages))]


# ------------------------------------------------------------ on real servers, through the CLI
async def live_store_from(nc: Client, path: Path) -> None:
    """A dataset store built from `nc`'s stream: what the projector would hold there."""
    store = projection_named("dataset").open_store(path)
    try:
        await rebuild(nc, store)
    finally:
        store.close()


async def verify_dataset(store: Path, nats_url: str) -> int:
    """`sendx audit verify` of the dataset store at `store` (and every chain) on `nats_url`."""
    return await run_sendx_audit(
        "verify", "--projection", "dataset", "--store", f"dataset={store}", "--nats", nats_url
    )


@pytest.mark.integration
async def test_verify_passes_an_untouched_history(
    nats_url: str, nc: Client, population: tuple[WireEvent, ...], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given the population on the bus and the live dataset store built from it
    await live_store_from(nc, tmp_path / "live.sqlite")

    # when the auditor verifies
    status = await verify_dataset(tmp_path / "live.sqlite", nats_url)

    # then read model and chains both pass
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"chains: {len(population)} messages checked, every source's hash chain is intact" in out


@pytest.mark.integration
async def test_verify_fails_naming_an_altered_stored_message(
    nc: Client, population: tuple[WireEvent, ...], copy_server: NatsServer, copy_nc: Client,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # given a copy of the history in which one stored ICB message has a changed payload
    altered: dict = {}

    def alter(messages: list[StoredMessage]) -> list[StoredMessage]:
        (target,) = source_run(messages, "QK1", 25, 1)
        changed = body(messages[target])
        changed["recorded_at"] = "2019-01-01T00:00:00Z"
        altered.update(changed, seq=target + 1)
        messages[target] = StoredMessage(messages[target].seq, messages[target].subject,
                                         orjson.dumps(changed), NOW)
        return messages

    await copy_history(nc, copy_nc, alter)
    await live_store_from(copy_nc, tmp_path / "live.sqlite")

    # when the auditor verifies against that server
    status = await verify_dataset(tmp_path / "live.sqlite", copy_server.url)

    # then verification fails and names the altered event
    out = capsys.readouterr().out
    assert status == 1
    assert (
        f"altered: source QK1 position {altered['source_position']}, stream sequence "
        f"{altered['seq']}, event {altered['event_id']}"
    ) in out


@pytest.mark.integration
async def test_verify_fails_naming_a_dropped_message(
    nc: Client, population: tuple[WireEvent, ...], copy_server: NatsServer, copy_nc: Client,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # given a copy of the history without one of Leicester's events
    dropped: dict = {}

    def drop(messages: list[StoredMessage]) -> list[StoredMessage]:
        (target,) = source_run(messages, "856", 60, 1)
        dropped.update(body(messages[target]))
        return messages[:target] + messages[target + 1:]

    await copy_history(nc, copy_nc, drop)
    await live_store_from(copy_nc, tmp_path / "live.sqlite")

    # when the auditor verifies against that server
    status = await verify_dataset(tmp_path / "live.sqlite", copy_server.url)

    # then verification fails and names the missing position of that source
    out = capsys.readouterr().out
    assert status == 1
    assert f"missing: source 856 position {dropped['source_position']}," in out
    assert (f"events between source positions {dropped['source_position'] - 1} ") in out


@pytest.mark.integration
async def test_chain_check_names_a_reordered_message(
    nc: Client, population: tuple[WireEvent, ...], copy_server: NatsServer, copy_nc: Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a copy in which two consecutive trust events are stored in swapped order
    moved: dict = {}

    def swap(messages: list[StoredMessage]) -> list[StoredMessage]:
        first, second = source_run(messages, "RT5", 15, 2)
        moved.update(body(messages[first]))
        messages[first], messages[second] = messages[second], messages[first]
        return messages

    await copy_history(nc, copy_nc, swap)

    # when the auditor checks the chains there
    status = await run_sendx_audit("chain", "--nats", copy_server.url)

    # then the event stored out of order is named
    out = capsys.readouterr().out
    assert status == 1
    assert f"reordered: source RT5 position {moved['source_position']}," in out
    assert moved["event_id"] in out


@pytest.mark.integration
async def test_verify_fails_naming_a_forged_event_published_on_the_live_stream(
    nats_url: str, nc: Client, js: JetStreamContext, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given the history, then a forged ICB event (a valid envelope with a made-up chain link),
    # then the ICB's genuine next event, which links to the genuine one before the forgery
    events = list(tiny_population())
    last_icb = max(i for i, w in enumerate(events) if ".QK1." in w.subject)
    genuine_next = events.pop(last_icb)
    await publish_wire(js, events)
    template = orjson.loads(next(w for w in reversed(events) if ".QK1." in w.subject).data)
    forged_id = str(uuid.uuid4())
    forged = {**template, "event_id": forged_id, "prev_hash": bytes_hash(b"not the chain"),
              "source_position": orjson.loads(genuine_next.data)["source_position"] + 100}
    subject = event_subject(template["source_org"], template["type"], template["person_key"])
    await js.publish(subject, orjson.dumps(forged), headers={"Nats-Msg-Id": forged_id})
    await publish_wire(js, [genuine_next])
    await live_store_from(nc, tmp_path / "live.sqlite")

    # when the auditor verifies
    status = await verify_dataset(tmp_path / "live.sqlite", nats_url)

    # then the read model agrees with a rebuild (the forgery is in both), but the chain check
    # fails and names the forged event, not the genuine ones around it
    out = capsys.readouterr().out
    assert status == 1
    assert "dataset: live read model equals a rebuild" in out
    report = await check_chains(nc)
    assert [(f.kind, f.source_org, f.event_id) for f in report.findings] == [
        ("forged", "QK1", forged_id)
    ]
    assert f"forged: source QK1 position {forged['source_position']}, stream sequence " \
           f"{len(events) + 1}, event {forged_id}" in out


def test_a_late_forgery_claiming_a_used_position_is_named_and_kept_off_the_head() -> None:
    # given, after the whole history, an event on the trust's subject claiming the position of
    # one of the trust's early events, with a made-up chain link
    messages = stored_population()
    (early,) = source_run(messages, "RT5", 3, 1)
    forged_id = str(uuid.uuid4())
    forged = with_body(messages[early], {"event_id": forged_id, "prev_hash": "1" * 64})
    messages.append(StoredMessage(len(messages) + 1, forged.subject, forged.data, NOW))

    # when the chains are checked
    findings, heads = chain_findings(link_of(m) for m in messages)

    # then only the forgery is named, and the trust's head is still its last genuine event
    assert [(f.kind, f.event_id, f.stream_seq) for f in findings] == [
        ("forged", forged_id, len(messages))
    ]
    assert "already holds" in findings[0].detail
    last_genuine = [m for m in messages[:-1] if ".RT5." in m.subject][-1]
    assert next(h for h in heads if h.source_org == "RT5").stream_seq == last_genuine.seq
