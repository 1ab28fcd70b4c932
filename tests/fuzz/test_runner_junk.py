"""Junk published to `send.evt.>` between valid events: every junk message is dead-lettered with
the reason the contract gives, every valid event is applied, and the runner keeps going."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from service_harness import BackgroundLoop, examples, json_values

from contracts import DecodeError, Envelope, decode, encode
from contracts.ehc import PlanIssued
from contracts.subjects import event_subject
from projections.dataset.projection import DATASET
from projections.reading.dead_lettering import ORIGINAL_SEQUENCE, REASON
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from runtime.bus.connection import connect_bus
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM, ensure_streams
from tests.waiting import eventually

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FAST = ConsumerSettings(batch_size=20, fetch_timeout=0.2, retry_delay=0.2)
token = st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True)
junk_subjects = st.lists(token, min_size=1, max_size=6).map(lambda t: "send.evt." + ".".join(t))


def valid_event(n: int) -> Envelope:
    payload = PlanIssued(case_id=f"C{n}", plan_id=f"P{n}", issued_on=date(2025, 5, 1),
                         primary_need="ASD", placement="mainstream")
    return Envelope.wrap(payload, source_org="856", person_key=f"p_{uuid4().hex}",
                         occurred_at=datetime(2025, 5, 1, tzinfo=UTC), source_position=n + 1)


def subject_of(envelope: Envelope) -> str:
    return event_subject(envelope.source_org, envelope.type, envelope.person_key)


@st.composite
def junk(draw: st.DrawFn) -> tuple[str, bytes]:
    """Random bytes, random JSON, or a valid event with one field replaced, on any subject."""
    base = valid_event(0)
    how = draw(st.sampled_from(["bytes", "json", "mutated", "mutated"]))
    if how == "bytes":
        return draw(junk_subjects), draw(st.binary(max_size=200))
    if how == "json":
        return draw(junk_subjects), orjson.dumps(draw(json_values))
    wire = orjson.loads(encode(base))
    wire[draw(st.sampled_from(sorted(wire)))] = draw(json_values)
    return draw(st.sampled_from([subject_of(base), draw(junk_subjects)])), orjson.dumps(wire)


class LiveRunner(BackgroundLoop):
    def __init__(self, nats_url: str, db: Path) -> None:
        super().__init__()

        async def start() -> tuple[Client, ProjectionRunner]:
            nc = await connect_bus(nats_url, name="fuzz-runner")
            await ensure_streams(nc.jetstream())
            self.store = DATASET.open_store(db)
            runner = ProjectionRunner(nc, DATASET.name, self.store, FAST)
            self.task = self.loop.create_task(runner.run())
            return nc, runner

        self.nc, self.runner = self.run(start())
        self.js = self.nc.jetstream()

    def publish(self, messages: list[tuple[str, bytes]]) -> list[int]:
        async def send() -> list[int]:
            return [(await self.js.publish(s, body, stream=EVENTS_STREAM)).seq
                    for s, body in messages]

        return self.run(send())

    def caught_up(self, last: int) -> None:
        async def wait() -> None:
            await eventually(lambda: self.runner.position >= last, 30,
                             what=f"the runner at {last}", interval=0.02)

        self.run(wait(), timeout=40)

    def dead_letters_after(self, first_seq: int) -> list[tuple[str, str]]:
        async def read() -> list[tuple[str, str]]:
            last = (await self.js.stream_info(DEADLETTER_STREAM)).state.last_seq
            letters = [await self.js.get_msg(DEADLETTER_STREAM, seq)
                       for seq in range(first_seq, last + 1)]
            return [(m.headers[ORIGINAL_SEQUENCE], m.headers[REASON]) for m in letters]

        return self.run(read())

    def last_dead_letter(self) -> int:
        async def last() -> int:
            return (await self.js.stream_info(DEADLETTER_STREAM)).state.last_seq

        return self.run(last())

    def stop(self) -> None:
        async def stop() -> None:
            self.runner.stop()
            await self.task
            self.store.close()
            await self.nc.drain()

        try:
            self.run(stop())
        finally:
            self.close()


@pytest.fixture
def live_runner(nats_url: str, tmp_path: Path) -> Iterator[LiveRunner]:
    runner = LiveRunner(nats_url, tmp_path / "dataset.sqlite")
    try:
        yield runner
    finally:
        runner.stop()


def expected_reason(subject: str, body: bytes) -> str | None:
    try:
        decode(body, subject=subject)
    except DecodeError as error:
        return error.reason
    return None


def test_junk_is_dead_lettered_with_its_reason_and_every_valid_event_is_applied(
    live_runner: LiveRunner,
) -> None:
    counter = iter(range(1, 10**9))

    @FUZZ
    @given(st.lists(st.one_of(junk(), st.builds(lambda: None)), min_size=1, max_size=12))
    def fuzz(drawn: list[tuple[str, bytes] | None]) -> None:
        # given junk and valid events, interleaved, published to the event stream
        messages = [
            item or (subject_of(e := valid_event(next(counter))), encode(e)) for item in drawn
        ]
        applied_before = live_runner.runner.applied
        letters_from = live_runner.last_dead_letter() + 1
        seqs = live_runner.publish(messages)
        # when the runner catches up
        live_runner.caught_up(seqs[-1])
        # then each undecodable message is on the dead-letter stream with the contract's reason
        expected = [
            (str(seq), reason)
            for seq, (subject, body) in zip(seqs, messages, strict=True)
            if (reason := expected_reason(subject, body)) is not None
        ]
        assert live_runner.dead_letters_after(letters_from) == expected
        # and every message that decodes was applied
        assert live_runner.runner.applied - applied_before == len(messages) - len(expected)

    fuzz()
