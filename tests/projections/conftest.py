"""Factories and fixtures for the projection tests: events as partners publish them, a dataset
store on a temporary file, and a live runner against the real nats-server from tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import Envelope, Payload, encode
from contracts.ehc import AssessmentRequested, PlanCeased, PlanIssued
from contracts.health import EhcPlanFlagCleared, EhcPlanFlagSet, ReferralMade
from contracts.subjects import event_subject
from projections.dataset.store import SqliteDatasetStore
from projections.projection import StreamEvent
from projections.runner import ConsumerSettings, ProjectionRunner
from services.bus.connection import connect_bus
from services.bus.streams import EVENTS_STREAM

FAST = ConsumerSettings(batch_size=50, fetch_timeout=0.2, retry_delay=0.2)


class EventFactory:
    """Builds envelopes the way each partner's service would publish them."""

    def __init__(self) -> None:
        self._positions = itertools.count(1)

    @staticmethod
    def person(name: str) -> str:
        return "p_" + hashlib.md5(name.encode()).hexdigest()

    def wrap(
        self, payload: Payload, person: str, org: str, on: date, recorded_at: datetime | None = None
    ) -> Envelope:
        occurred_at = datetime.combine(on, time(9), UTC)
        return Envelope.wrap(
            payload, source_org=org, person_key=self.person(person), occurred_at=occurred_at,
            recorded_at=recorded_at or occurred_at + timedelta(hours=1),
            source_position=next(self._positions),
        )

    def assessment_requested(self, person: str, on: date, *, la: str = "856", case: str = "C1",
                             recorded_at: datetime | None = None) -> Envelope:
        payload = AssessmentRequested(case_id=case, requested_on=on, requested_by="parent")
        return self.wrap(payload, person, la, on, recorded_at)

    def plan_issued(self, person: str, on: date, *, la: str = "856", case: str = "C1",
                    plan: str = "P1", exception: str | None = None,
                    recorded_at: datetime | None = None) -> Envelope:
        payload = PlanIssued(
            case_id=case, plan_id=plan, issued_on=on, primary_need="ASD",
            placement="mainstream", exception=exception,
        )
        return self.wrap(payload, person, la, on, recorded_at)

    def plan_ceased(self, person: str, on: date, *, la: str = "856", plan: str = "P1") -> Envelope:
        return self.wrap(PlanCeased(plan_id=plan, ceased_on=on, reason="needs_met"), person, la, on)

    def health_flag_set(self, person: str, on: date, *, la: str = "856",
                        by: str = "QK1") -> Envelope:
        return self.wrap(EhcPlanFlagSet(set_on=on, la_code=la), person, by, on)

    def health_flag_cleared(self, person: str, on: date, *, la: str = "856",
                            by: str = "QK1") -> Envelope:
        return self.wrap(EhcPlanFlagCleared(cleared_on=on, la_code=la), person, by, on)

    def referral_made(self, person: str, on: date, *, by: str = "RT5") -> Envelope:
        payload = ReferralMade(referral_id="R1", referred_on=on, pathway="neurodevelopmental")
        return self.wrap(payload, person, by, on)


@pytest.fixture
def fast() -> ConsumerSettings:
    """Consumer settings that keep tests quick: short fetches and retries."""
    return FAST


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteDatasetStore]:
    dataset = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    yield dataset
    dataset.close()


@pytest.fixture
def record(store: SqliteDatasetStore) -> Callable[..., int]:
    """Apply envelopes to the store as one batch at the next stream sequences."""
    sequence = itertools.count(1)

    def apply(*envelopes: Envelope) -> int:
        return store.apply_batch([StreamEvent(next(sequence), e) for e in envelopes])

    return apply


Publish = Callable[..., Awaitable[int]]


@pytest.fixture
def publish(js: JetStreamContext) -> Publish:
    """Publish an envelope as a relay does (Nats-Msg-Id = event id); returns its stream seq."""

    async def send(envelope: Envelope, *, msg_id: str | None = None) -> int:
        subject = event_subject(envelope.source_org, envelope.type, envelope.person_key)
        ack = await js.publish(
            subject, encode(envelope), headers={"Nats-Msg-Id": msg_id or str(envelope.event_id)}
        )
        return ack.seq

    return send


@dataclass
class LiveProjection:
    """The dataset runner on a real server, startable and stoppable like the real process."""

    nc: Client
    js: JetStreamContext
    db_path: Path
    store: SqliteDatasetStore | None = None
    runner: ProjectionRunner | None = None
    task: asyncio.Task | None = None
    runs: list[ProjectionRunner] = field(default_factory=list)

    async def start(self, db_path: Path | None = None) -> None:
        self.db_path = db_path or self.db_path
        self.store = SqliteDatasetStore(self.db_path)
        self.runner = ProjectionRunner(self.nc, "dataset", self.store, FAST)
        self.runs.append(self.runner)
        self.task = asyncio.create_task(self.runner.run())

    async def stop(self) -> None:
        if self.runner and self.task:
            self.runner.stop()
            await asyncio.wait_for(self.task, 5)
        if self.store:
            self.store.close()
        self.runner = self.task = self.store = None

    async def caught_up(self, timeout: float = 10) -> int:
        """Wait until everything published so far has been applied; return the position."""
        last = (await self.js.stream_info(EVENTS_STREAM)).state.last_seq
        async with asyncio.timeout(timeout):
            while self.runner is None or self.runner.position < last:
                await asyncio.sleep(0.02)
        return self.runner.position


@pytest.fixture
async def live(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> AsyncIterator[LiveProjection]:
    nc = await connect_bus(nats_url, name="test-projection")
    projection = LiveProjection(nc, js, tmp_path / "live.sqlite")
    await projection.start()
    try:
        yield projection
    finally:
        await projection.stop()
        await nc.close()
