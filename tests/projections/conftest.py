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
from contracts.ap import PlacementCommissioned, PlacementEnded, PlacementStarted
from contracts.ehc import (
    AdviceRequested,
    AdviceReturned,
    AnnualReviewHeld,
    AssessmentDecided,
    AssessmentRequested,
    AssessmentStepRecorded,
    PlanAmended,
    PlanCeased,
    PlanInForceRecorded,
    PlanIssued,
    PlanNotIssued,
    ReviewOutcome,
)
from contracts.health import (
    AdultServicesReferralAccepted,
    AnnualHealthCheckCompleted,
    CareSummaryUpdated,
    DiagnosisRecorded,
    DsrStatusChanged,
    EhcPlanFlagCleared,
    EhcPlanFlagSet,
    HealthAssessmentStarted,
    ReferralClosed,
    ReferralMade,
    TransferredToAdultServices,
)
from contracts.person import PersonRegistered
from contracts.provider import (
    PartTimeTimetableEnded,
    PartTimeTimetableStarted,
    Post16DestinationConfirmed,
)
from contracts.subjects import event_subject
from contracts.transition import (
    NamedWorkerAssigned,
    TransitionAssessmentCompleted,
    TransitionPlanAgreed,
)
from projections.dataset.periods import Month
from projections.dataset.store import DatasetStore, SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.reading.projection import StreamEvent
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.tracker.store import TrackerStore
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM
from tests.waiting import eventually

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

    def plan_in_force(self, person: str, on: date, *, la: str = "856", case: str = "C1",
                      plan: str = "P1", requested_on: date | None = None,
                      last_reviewed_on: date | None = None) -> Envelope:
        """Go-live: a plan already in force, recorded from the LA's system on 1 December 2025."""
        payload = PlanInForceRecorded(
            case_id=case, plan_id=plan, issued_on=on, primary_need="ASD", placement="special",
            requested_on=requested_on, last_reviewed_on=last_reviewed_on,
            migrated_from="capita-one",
        )
        return self.wrap(payload, person, la, on, datetime(2025, 12, 1, 9, tzinfo=UTC))

    def assessment_at_step(self, person: str, requested_on: date, step: str, *,
                           la: str = "856", case: str = "C1", decided_on: date | None = None,
                           not_issued_on: date | None = None) -> Envelope:
        """Go-live: an assessment at its step, recorded from the LA's system on 1 December 2025."""
        payload = AssessmentStepRecorded(
            case_id=case, requested_on=requested_on, step=step, decided_on=decided_on,
            not_issued_on=not_issued_on,
            not_issued_reason="needs_met_without_plan" if not_issued_on else None,
            migrated_from="capita-one",
        )
        return self.wrap(payload, person, la, requested_on, datetime(2025, 12, 1, 9, tzinfo=UTC))

    def plan_ceased(self, person: str, on: date, *, la: str = "856", plan: str = "P1") -> Envelope:
        return self.wrap(PlanCeased(plan_id=plan, ceased_on=on, reason="needs_met"), person, la, on)

    def health_flag_set(self, person: str, on: date, *, la: str = "856",
                        by: str = "QK1") -> Envelope:
        return self.wrap(EhcPlanFlagSet(set_on=on, la_code=la), person, by, on)

    def health_flag_cleared(self, person: str, on: date, *, la: str = "856",
                            by: str = "QK1") -> Envelope:
        return self.wrap(EhcPlanFlagCleared(cleared_on=on, la_code=la), person, by, on)

    def referral_made(self, person: str, on: date, *, by: str = "RT5", referral: str = "R1",
                      pathway: str = "neurodevelopmental") -> Envelope:
        payload = ReferralMade(referral_id=referral, referred_on=on, pathway=pathway)
        return self.wrap(payload, person, by, on)

    def assessment_started(self, person: str, on: date, *, by: str = "RT5", referral: str = "R1",
                           pathway: str = "neurodevelopmental") -> Envelope:
        payload = HealthAssessmentStarted(referral_id=referral, started_on=on, pathway=pathway)
        return self.wrap(payload, person, by, on)

    def registered(self, person: str, birth_month: str, *, by: str = "856") -> Envelope:
        return self.wrap(PersonRegistered(birth_month=birth_month), person, by, date(2020, 1, 1))

    def assessment_decided(self, person: str, on: date, *, la: str = "856", case: str = "C1",
                           decision: str = "assess") -> Envelope:
        payload = AssessmentDecided(case_id=case, decided_on=on, decision=decision)
        return self.wrap(payload, person, la, on)

    def advice_requested(self, person: str, on: date, *, la: str = "856", ref: str = "A1",
                         giver: str = "health") -> Envelope:
        payload = AdviceRequested(case_id="C1", advice_request_id=ref, requested_on=on,
                                  advice_giver=giver, requested_from="QK1")
        return self.wrap(payload, person, la, on)

    def advice_returned(self, person: str, on: date, *, la: str = "856", ref: str = "A1",
                        giver: str = "health", by: str = "QK1") -> Envelope:
        payload = AdviceReturned(case_id="C1", advice_request_id=ref, requesting_la=la,
                                 returned_on=on, advice_giver=giver)
        return self.wrap(payload, person, by, on)

    def review_held(self, person: str, on: date, *, la: str = "856", plan: str = "P1",
                    adulthood: bool = False) -> Envelope:
        payload = AnnualReviewHeld(plan_id=plan, held_on=on, preparing_for_adulthood=adulthood)
        return self.wrap(payload, person, la, on)

    def review_outcome(self, person: str, on: date, *, review: date, outcome: str = "amend",
                       la: str = "856", plan: str = "P1") -> Envelope:
        payload = ReviewOutcome(plan_id=plan, review_held_on=review, decided_on=on,
                                outcome=outcome)
        return self.wrap(payload, person, la, on)

    def plan_not_issued(self, person: str, on: date, *, la: str = "856",
                        case: str = "C1") -> Envelope:
        payload = PlanNotIssued(case_id=case, decided_on=on, reason="needs_met_without_plan")
        return self.wrap(payload, person, la, on)

    def plan_amended(self, person: str, on: date, *, la: str = "856", plan: str = "P1",
                     review: date | None = None, trigger: str = "annual_review") -> Envelope:
        payload = PlanAmended(plan_id=plan, amended_on=on, trigger=trigger, review_held_on=review)
        return self.wrap(payload, person, la, on)

    def placement_commissioned(self, person: str, on: date, *, la: str = "856",
                               placement: str = "AP-1", provider: str = "AP001",
                               tier: int = 2) -> Envelope:
        payload = PlacementCommissioned(placement_id=placement, commissioned_on=on,
                                        provider=provider, tier=tier, reason="exclusion")
        return self.wrap(payload, person, la, on)

    def placement_started(self, person: str, on: date, *, provider: str = "AP001",
                          placement: str = "AP-1", tier: int = 2, part_time: bool = False,
                          la: str | None = "856") -> Envelope:
        payload = PlacementStarted(placement_id=placement, started_on=on, tier=tier,
                                   part_time=part_time, reason="exclusion", commissioned_by=la)
        return self.wrap(payload, person, provider, on)

    def placement_ended(self, person: str, on: date, *, provider: str = "AP001",
                        placement: str = "AP-1", outcome: str = "reintegrated") -> Envelope:
        payload = PlacementEnded(placement_id=placement, ended_on=on, outcome=outcome)
        return self.wrap(payload, person, provider, on)

    def timetable_started(self, person: str, on: date, *, school: str = "120001",
                          timetable: str = "T1") -> Envelope:
        payload = PartTimeTimetableStarted(timetable_id=timetable, started_on=on,
                                           hours_per_week=12.5, reason="medical")
        return self.wrap(payload, person, school, on)

    def timetable_ended(self, person: str, on: date, *, school: str = "120001",
                        timetable: str = "T1") -> Envelope:
        return self.wrap(PartTimeTimetableEnded(timetable_id=timetable, ended_on=on),
                         person, school, on)

    def diagnosis(self, person: str, on: date, condition: str = "autism", *,
                  by: str = "RT5", referral: str | None = None,
                  referral_org: str | None = None) -> Envelope:
        payload = DiagnosisRecorded(
            diagnosis_id=f"D-{condition}", diagnosed_on=on, condition=condition,
            referral_id=referral, referral_org=referral_org,
            no_referral_reason=None if referral else "historic_record",
        )
        return self.wrap(payload, person, by, on)

    def referral_closed(self, person: str, on: date, *, by: str = "RT5", referral: str = "R1",
                        reason: str = "moved_away",
                        pathway: str = "neurodevelopmental") -> Envelope:
        payload = ReferralClosed(referral_id=referral, closed_on=on, reason=reason,
                                 pathway=pathway)
        return self.wrap(payload, person, by, on)

    def named_worker(self, person: str, on: date, *, by: str = "856") -> Envelope:
        return self.wrap(NamedWorkerAssigned(assigned_on=on, worker_role="send_officer"),
                         person, by, on)

    def transition_plan(self, person: str, on: date, *, la: str = "856") -> Envelope:
        return self.wrap(TransitionPlanAgreed(agreed_on=on, partners=["QK1"]), person, la, on)

    def dsr(self, person: str, on: date, status: str, *, by: str = "QK1") -> Envelope:
        return self.wrap(DsrStatusChanged(changed_on=on, status=status), person, by, on)

    def health_check(self, person: str, on: date, *, by: str = "QK1") -> Envelope:
        payload = AnnualHealthCheckCompleted(completed_on=on, health_action_plan=True)
        return self.wrap(payload, person, by, on)

    def care_summary(self, person: str, on: date, *, by: str = "RT5") -> Envelope:
        payload = CareSummaryUpdated(updated_on=on, complex_health_needs=True)
        return self.wrap(payload, person, by, on)

    def asc_assessment(self, person: str, on: date, *, la: str = "856") -> Envelope:
        payload = TransitionAssessmentCompleted(completed_on=on, likely_eligible_needs=True)
        return self.wrap(payload, person, la, on)

    def adult_referral(self, person: str, on: date, *, by: str = "RT5",
                       transfer_on: date | None = None) -> Envelope:
        payload = AdultServicesReferralAccepted(accepted_on=on, service="adult_ld",
                                                agreed_transfer_on=transfer_on)
        return self.wrap(payload, person, by, on)

    def transferred(self, person: str, on: date, *, by: str = "RT5") -> Envelope:
        payload = TransferredToAdultServices(transferred_on=on, service="adult_ld",
                                             receiving_org="QK1")
        return self.wrap(payload, person, by, on)

    def destination(self, person: str, on: date, moves_on: date, *,
                    school: str = "120001") -> Envelope:
        payload = Post16DestinationConfirmed(confirmed_on=on, destination="fe_college",
                                             moves_on=moves_on)
        return self.wrap(payload, person, school, on)


@pytest.fixture
def raw() -> Callable[..., dict[str, int]]:
    """Exact counts of one LA and month (`tallies.exact_counts`; LA 856 unless given)."""

    def counts(store, indicator: str, month: Month, la: str | None = "856", group: str = ""
               ) -> dict[str, int]:  # noqa: ANN001
        return exact_counts(store, indicator, month, la, group)

    return counts


@pytest.fixture
def fast() -> ConsumerSettings:
    """Consumer settings that keep tests quick: short fetches and retries."""
    return FAST


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DatasetStore]:
    dataset = DatasetStore(tmp_path / "dataset.sqlite")
    yield dataset
    dataset.close()


@pytest.fixture
def tracker_store(tmp_path: Path) -> Iterator[TrackerStore]:
    tracker = TrackerStore(tmp_path / "tracker.sqlite")
    yield tracker
    tracker.close()


@pytest.fixture
def record(store: DatasetStore, tracker_store: TrackerStore) -> Callable[..., int]:
    """Apply envelopes to the dataset and the tracker as one batch at the next sequences."""
    sequence = itertools.count(1)

    def apply(*envelopes: Envelope) -> int:
        batch = [StreamEvent(next(sequence), e) for e in envelopes]
        tracker_store.apply_batch(batch)
        return store.apply_batch(batch)

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
        await eventually(
            lambda: self.runner is not None and self.runner.position >= last, timeout, interval=0.02
        )
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
