"""Dead letters as an operator sees them: listed, shown, counted, and retried after an upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import ClassVar
from uuid import uuid4

import orjson
import pytest
from nats.js import JetStreamContext

from contracts import DecodeError, Payload, encode, registry
from contracts.subjects import event_subject
from contracts.topology import PUBLISHES, OrgKind
from projections.dataset.projection import DATASET
from projections.deadletter_queue import (
    RETRIED_BY,
    RETRY_OF,
    AlreadyRetried,
    DeadLetterNotFound,
    dead_letter_counts,
    list_dead_letters,
    retry_dead_letter,
    retry_dead_letters,
    show_dead_letter,
)
from projections.reading.dead_lettering import (
    ORIGINAL_SEQUENCE,
    ORIGINAL_SUBJECT,
    REASON,
    deadletter_headers,
)
from projections.reading.runner import ProjectionRunner
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM, ensure_streams
from sendx.commands.deadletters import run_counts, run_list, run_retry, run_show
from tests.projections.conftest import FAST
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NEW_TYPE = "ehc.support_plan_shared"


class SupportPlanShared(Payload):
    """An event type a publisher starts sending before the projection's contracts know it."""

    event_type: ClassVar[str] = NEW_TYPE
    schema_version: ClassVar[int] = 1
    plan_id: str


def upgrade_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    """What deploying a contracts release that adds the type (an LA's) does to this process."""
    monkeypatch.setitem(registry._MODELS, (NEW_TYPE, 1), SupportPlanShared)
    monkeypatch.setitem(registry._CURRENT, NEW_TYPE, 1)
    monkeypatch.setitem(PUBLISHES, OrgKind.LA, PUBLISHES[OrgKind.LA] | {NEW_TYPE})


def new_type_event(events, person: str = "amira") -> tuple[str, bytes]:
    wire = orjson.loads(encode(events.plan_issued(person, date(2025, 5, 2))))
    wire.update(type=NEW_TYPE, event_id=str(uuid4()), payload={"plan_id": "856-P-9"})
    return event_subject("856", NEW_TYPE, events.person(person)), orjson.dumps(wire)


async def refuse(live, js: JetStreamContext, *messages: tuple[str, bytes]) -> None:
    for subject, body in messages:
        await js.publish(subject, body)
    await live.caught_up()


async def test_dead_letters_are_listed_with_reason_subject_and_error_and_filtered(
    live, js: JetStreamContext, events
) -> None:
    # given the projection refused malformed JSON and an event of a type it does not know
    amira = events.person("amira")
    broken = (event_subject("856", "ehc.plan_issued", amira), b"{not json")
    await refuse(live, js, broken, new_type_event(events))
    # when an operator lists them
    letters = await list_dead_letters(js)
    # then each shows its sequence, reason, original subject and error, oldest first
    assert [(x.seq, x.reason, x.original_subject, x.status) for x in letters] == [
        (1, "bad_json", broken[0], "open"),
        (2, "unknown_type", event_subject("856", NEW_TYPE, amira), "open"),
    ]
    assert "not valid JSON" in letters[0].error
    assert NEW_TYPE in letters[1].error
    # and they can be filtered by reason and limited
    assert [x.seq for x in await list_dead_letters(js, reason="unknown_type")] == [2]
    assert [x.seq for x in await list_dead_letters(js, limit=1)] == [1]
    assert await dead_letter_counts(js) == {"bad_json": 1, "unknown_type": 1}


async def test_a_letter_shows_its_headers_and_original_bytes(
    live, js: JetStreamContext, events
) -> None:
    # given a refused message
    subject, body = new_type_event(events)
    await refuse(live, js, (subject, body))
    # when shown
    letter = await show_dead_letter(js, 1)
    # then the original bytes and where they came from are there, unchanged
    assert letter.data == body
    assert letter.headers[ORIGINAL_SUBJECT] == subject
    assert letter.headers[ORIGINAL_SEQUENCE] == "1"
    assert letter.headers[REASON] == "unknown_type"
    # and a sequence that holds no letter is a clear error
    with pytest.raises(DeadLetterNotFound, match="no dead letter at SEND_DEADLETTER sequence 9"):
        await show_dead_letter(js, 9)


async def test_a_letter_that_decodes_after_an_upgrade_is_republished_and_applied_once(
    live, js: JetStreamContext, events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an event of a new type was refused by the projection
    subject, body = new_type_event(events)
    await refuse(live, js, (subject, body))
    assert live.runner.applied == 0
    # when the contracts are upgraded and the letter retried
    upgrade_contracts(monkeypatch)
    outcome = await retry_dead_letter(js, 1)
    # then the original bytes are back on the original subject, and the projection applies them
    assert outcome.result == "republished"
    republished = await js.get_msg(EVENTS_STREAM, outcome.republished_seq)
    assert (republished.subject, republished.data) == (subject, body)
    assert await live.caught_up() == 2
    assert live.runner.applied == 1
    # and the letter is recorded as retried, so it is never republished twice
    letter = await show_dead_letter(js, 1)
    assert letter.status.startswith("retried: republished")
    with pytest.raises(AlreadyRetried, match="dead letter 1 was already retried"):
        await retry_dead_letter(js, 1)
    assert await retry_dead_letters(js) == []
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 2
    assert await dead_letter_counts(js, open_only=True) == {}


async def test_a_retried_letter_that_still_fails_is_dead_lettered_again_with_the_reason(
    live, js: JetStreamContext, events
) -> None:
    # given a refused event whose type the contracts still do not know
    await refuse(live, js, new_type_event(events))
    # when it is retried (with --all)
    (outcome,) = await retry_dead_letters(js, reason="unknown_type")
    # then nothing is put back on the shared history
    assert outcome.result == "still_invalid"
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1
    # and a new letter says why, pointing at the one it retried, which is closed
    again = await show_dead_letter(js, outcome.new_letter_seq)
    assert (again.reason, again.headers[RETRY_OF], again.is_open) == ("unknown_type", "1", True)
    assert again.data == (await show_dead_letter(js, 1)).data
    assert not (await show_dead_letter(js, 1)).is_open
    assert [x.seq for x in await list_dead_letters(js, open_only=True)] == [again.seq]
    # and the retry record itself is not mistaken for a letter
    records = (await js.stream_info(DEADLETTER_STREAM)).state.messages
    assert records == 3
    with pytest.raises(DeadLetterNotFound, match="is the record of a retry"):
        await show_dead_letter(js, 3)


async def test_the_cli_lists_shows_retries_and_counts(
    live, js: JetStreamContext, events, nats_url: str, monkeypatch, capsys
) -> None:
    import argparse

    # given one refused event of a new type and one broken message
    subject, body = new_type_event(events)
    broken = (event_subject("856", "ehc.plan_issued", events.person("ben")), b"[1, 2]")
    await refuse(live, js, (subject, body), broken)

    def args(**values: object) -> argparse.Namespace:
        defaults = dict(nats=nats_url, reason=None, limit=None, open=False, all=False, seq=None)
        return argparse.Namespace(**{**defaults, **values})

    # when an operator lists, shows, upgrades and retries everything, then counts
    assert await _in_thread(run_list, args()) == 0
    listed = capsys.readouterr().out.splitlines()
    assert await _in_thread(run_show, args(seq=1)) == 0
    shown = capsys.readouterr().out
    upgrade_contracts(monkeypatch)
    code = await _in_thread(run_retry, args(all=True))
    retried = capsys.readouterr().out
    assert await _in_thread(run_counts, args(open=True)) == 0
    counted = capsys.readouterr().out
    # then each step printed what the operator needs
    assert listed[1].startswith("1\t") and "\tunknown_type\t" + subject in listed[1]
    assert "not_an_object" in listed[2]
    assert "reason: unknown_type" in shown and body.decode() in shown
    assert code == 1  # one letter still fails
    assert "dead letter 1: republished" in retried
    assert "dead letter 2: still_invalid" in retried
    assert "2 retried: 1 republished, 1 still invalid" in retried
    assert counted.splitlines() == ["not_an_object\t1", "total\t1"]


async def _in_thread(command, args) -> int:
    """The CLI runs its own event loop, as it does in a terminal."""
    import asyncio

    return await asyncio.to_thread(command, args)


@pytest.fixture
def secured_server(tmp_path) -> Iterator[NatsServer]:
    """The embedded server as `sendx run` starts it: every process logs in as itself."""
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    try:
        yield server
    finally:
        server.stop()


async def test_on_the_secured_server_the_retrier_republishes_a_letter_as_its_organisation(
    secured_server: NatsServer, tmp_path, events, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import argparse
    import asyncio

    # given the embedded secured server, LA 856 publishing an event of a type the projection
    # does not know yet, and the projector (logged in as itself) dead-lettering it
    url, data_dir = secured_server.url, tmp_path / "data"
    admin, la_856, projector = [
        await connect_bus(url, name=f"test-{who}", **credentials_for(who, data_dir))
        for who in ("admin", "856", "projector")
    ]
    await ensure_streams(admin.jetstream())
    subject, body = new_type_event(events)
    await la_856.jetstream().publish(subject, body)
    store = DATASET.open_store(tmp_path / "dataset.sqlite")
    runner = ProjectionRunner(projector, DATASET.name, store, FAST)
    running = asyncio.create_task(runner.run())
    await eventually(lambda: runner.dead_lettered >= 1, 20,
                     what="runner.dead_lettered >= 1", interval=0.02)
    # when the contracts are upgraded and an operator retries it from the command line, with
    # no NATS user of their own set (the CLI logs in as the retrier of the embedded server)
    upgrade_contracts(monkeypatch)
    monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    options = dict(nats=url, reason=None, all=False, seq=1, limit=None, open=False)
    # (first listing and reading the letter, as the retrier too)
    assert await asyncio.to_thread(run_list, argparse.Namespace(**options)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert await asyncio.to_thread(run_show, argparse.Namespace(**options)) == 0
    shown = capsys.readouterr().out
    code = await asyncio.to_thread(run_retry, argparse.Namespace(**options))
    retried = capsys.readouterr().out
    assert await asyncio.to_thread(run_counts, argparse.Namespace(**{**options, "open": True})) == 0
    counted = capsys.readouterr().out
    # then the retrier read the letter and its reason, and none is left open
    assert listed[1].startswith("1\t") and "\tunknown_type\t" + subject in listed[1]
    assert "reason: unknown_type" in shown and body.decode() in shown
    assert counted.splitlines() == ["total\t0"]
    # and the original bytes are back on LA 856's subject, saying who retried them
    assert code == 0, retried
    js = admin.jetstream()
    republished = await js.get_msg(EVENTS_STREAM, 2)
    assert (republished.subject, republished.data) == (subject, body)
    assert republished.headers[RETRY_OF] == "1"
    assert republished.headers[RETRIED_BY].startswith("retrier (login ")
    # and the projection applies them, and the letter's record names the retrier
    await eventually(lambda: runner.applied >= 1, 20, what="runner.applied >= 1", interval=0.02)
    letter = await show_dead_letter(js, 1)
    assert letter.status.startswith("retried by retrier (login ")
    runner.stop()
    await running
    store.close()
    for nc in (admin, la_856, projector):
        await nc.close()



async def test_on_the_secured_server_the_cli_without_a_user_is_refused_clearly(
    secured_server: NatsServer, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse
    import asyncio

    # given an operator with neither SENDX_NATS_USER nor the embedded server's credentials
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    options = dict(nats=secured_server.url, reason=None, limit=None, open=False)
    # when they list the dead letters, then they are told at once why not and what to do
    with pytest.raises(ConnectionError, match="refused no user .*SENDX_NATS_USER"):
        await asyncio.wait_for(asyncio.to_thread(run_list, argparse.Namespace(**options)), 8)


async def test_the_retrier_refuses_a_letter_whose_source_may_not_publish_it_and_records_who_tried(
    secured_server: NatsServer, tmp_path, events, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import argparse
    import asyncio

    # given a school's well-formed `ehc.plan_issued` on its own subject, held as a dead letter
    # (a school may not issue plans: contracts.topology)
    url, data_dir = secured_server.url, tmp_path / "data"
    admin, projector = [
        await connect_bus(url, name=f"test-{who}", **credentials_for(who, data_dir))
        for who in ("admin", "projector")
    ]
    await ensure_streams(admin.jetstream())
    forged = events.plan_issued("amira", date(2025, 5, 2), la="120001")
    subject = event_subject("120001", "ehc.plan_issued", forged.person_key)
    refusal = DecodeError("bad_envelope", "120001 may not publish ehc.plan_issued")
    await projector.jetstream().publish(
        "send.dlq.decode.120001", encode(forged),
        headers=deadletter_headers(refusal, subject, EVENTS_STREAM, 1),
    )
    # when an operator retries it from the command line, logged in as the retrier
    monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    options = dict(nats=url, reason=None, all=False, seq=1)
    code = await asyncio.to_thread(run_retry, argparse.Namespace(**options))
    # then it is refused, saying why, and nothing reached the shared history
    out = capsys.readouterr().out
    assert code == 1, out
    assert ("dead letter 1: refused: not republished: ehc.plan_issued from 120001: a provider "
            "may not publish it") in out
    assert "1 retried: 0 republished, 0 still invalid, 1 refused" in out
    js = admin.jetstream()
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 0
    # and the attempt is on record with who made it, so the letter is not retried again
    letter = await show_dead_letter(js, 1)
    assert letter.status.startswith("retried by retrier (login ")
    assert letter.retried is not None and letter.retried.result == "refused"
    with pytest.raises(AlreadyRetried):
        await retry_dead_letter(js, 1)
    # and list, show and counts (as the retrier) say so too
    every = argparse.Namespace(**options, limit=None, open=False)
    printed = []
    for command in (run_list, run_show, run_counts):
        assert await asyncio.to_thread(command, every) == 0
        printed.append(capsys.readouterr().out)
    listed, shown, counted = printed
    assert listed.splitlines()[1].startswith("1\t") and "\tretried by retrier (login " in listed
    assert "status: retried by retrier (login " in shown and "reason: bad_envelope" in shown
    assert counted.splitlines() == ["bad_envelope\t1", "total\t1"]
    for nc in (admin, projector):
        await nc.close()
