"""The alert process: evaluate the rules, publish what was not sent before, withdraw what no
longer holds, remember both.

Thin on purpose: the rules are `rules.py`, reading the read models is `evaluate.py`, the record
of what was sent is `sent.py`. An evaluation runs at start, when a projector announces a
commit (`projections.<name>.changed`, coalesced for `settle` seconds), and every `interval`
seconds, each time as of `today()` (an injectable clock): so a milestone that turns amber or
red only because a day passed is alerted on that day, with no new event.

Each new alert is published on `send.alert.<owner>.<kind>.<person_key>` of SEND_ALERTS with
`Nats-Msg-Id` = its alert id and recorded once the server acknowledged it. A bus that is down
makes the round stop where it got to; the next round sends the rest.

Then each open alert the rules no longer raise is withdrawn (`withdrawals.py`): an
`alert.withdrawn` on `send.alert.<owner>.withdrawn.<person_key>`, `Nats-Msg-Id` = its
withdrawal id (one per alert), recorded once acknowledged. New alerts go first, so a
withdrawal that names its replacement never arrives before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time

import nats.errors
import orjson
from nats.aio.client import Client

from contracts.alerts import AlertRaised, AlertWithdrawn
from contracts.subjects import projection_changes
from projections.alerts.counts import alert_counts
from projections.alerts.evaluate import evaluate
from projections.alerts.rules import Raised
from projections.alerts.sent import SentAlerts
from projections.alerts.withdrawals import Withdrawal, withdrawals
from projections.dataset.publishing import DatasetReadModel
from projections.serving.live import ProjectionChange
from projections.tracker.queries import TrackerReadModel
from runtime.bus.outbound import alerts_stream
from runtime.bus.streams import ensure_stream

log = logging.getLogger(__name__)

Clock = Callable[[], date]


def utc_today() -> date:
    return datetime.now(UTC).date()


def message_of(raised: Raised, position: int, recorded_at: datetime) -> AlertRaised:
    """The `alert.raised` message of an alert. Pure."""
    alert_id = raised.payload.alert_id
    return AlertRaised(
        event_id=alert_id, person_key=raised.person_key,
        occurred_at=datetime.combine(raised.payload.as_of, time(), UTC),
        recorded_at=recorded_at, correlation_id=alert_id, source_position=position,
        payload=raised.payload,
    )


def withdrawal_message(withdrawal: Withdrawal, recorded_at: datetime) -> AlertWithdrawn:
    """The `alert.withdrawn` message of a withdrawal. Pure."""
    payload = withdrawal.payload
    return AlertWithdrawn(
        event_id=payload.withdrawal_id, person_key=withdrawal.alert.person_key,
        occurred_at=datetime.combine(payload.as_of, time(), UTC), recorded_at=recorded_at,
        correlation_id=payload.alert_id, causation_id=payload.superseded_by,
        source_position=withdrawal.alert.position, payload=payload,
    )


class AlertRunner:
    def __init__(
        self, nc: Client, tracker: TrackerReadModel, dataset: DatasetReadModel,
        sent: SentAlerts, *, default_health: str, today: Clock = utc_today,
        interval: float = 60.0, settle: float = 1.0,
    ) -> None:
        self._nc, self._tracker, self._dataset, self._sent = nc, tracker, dataset, sent
        self.default_health = default_health
        self.today, self.interval, self.settle = today, interval, settle
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.rounds = 0
        self._announced = 0
        """Evaluations completed (tests wait on it rather than sleeping)."""

    async def evaluate_once(self) -> int:
        """One evaluation as of `today()`: returns how many messages were published (new
        alerts and withdrawals); 0 when nothing changed."""
        as_of = self.today()
        held = await asyncio.to_thread(self._sent.open_alerts)
        found = await asyncio.to_thread(
            evaluate, self._tracker, self._dataset, as_of, self.default_health,
            {a.person_key for a in held})
        due = found.due
        unsent = await asyncio.to_thread(self._sent.unsent, [r.payload.alert_id for r in due])
        news = await self._send([r for r in due if r.payload.alert_id in unsent])
        gone = await self._withdraw(withdrawals(held, due, found.standing, found.erasures,
                                                as_of))
        self.rounds += 1
        if news or gone:
            log.info("alerts as of %s: %d new of %d due, %d withdrawn", as_of, len(news),
                     len(due), len(gone))
            await self._announce([(r.person_key, r.payload.owner_org) for r in news]
                                 + [(w.alert.person_key, w.alert.owner_org) for w in gone])
        return len(news) + len(gone)

    async def _send(self, unsent: list[Raised]) -> list[Raised]:
        js = self._nc.jetstream()
        position = self._sent.next_position()
        news = []
        for raised in unsent:
            message = message_of(raised, position, datetime.now(UTC))
            ack = await js.publish(
                message.subject, orjson.dumps(message.model_dump(mode="json")),
                headers={"Nats-Msg-Id": str(message.event_id)},
            )
            self._sent.record(message.event_id, raised.payload.owner_org, raised.payload.kind,
                              raised.person_key, ack.seq, raised.payload.about)
            position += 1
            news.append(raised)
        return news

    async def _withdraw(self, due: list[Withdrawal]) -> list[Withdrawal]:
        js = self._nc.jetstream()
        for withdrawal in due:
            message = withdrawal_message(withdrawal, datetime.now(UTC))
            ack = await js.publish(
                message.subject, orjson.dumps(message.model_dump(mode="json")),
                headers={"Nats-Msg-Id": str(message.event_id)},
            )
            self._sent.record_withdrawal(withdrawal.alert.alert_id, withdrawal.payload.reason,
                                         ack.seq)
        return due

    async def _announce(self, changed: list[tuple[str, str]]) -> None:
        """Ring the live feed (`/api/live`): the owners of what was raised or withdrawn, and
        everyone's open and withdrawn counts. A doorbell, like a projector's: lost, it costs
        the dashboards nothing but freshness."""
        try:
            counted = await alert_counts(self._nc.jetstream())
            position = counted.position
            change = ProjectionChange(
                projection="alerts", position=position, previous_position=self._announced,
                events=len(changed), people=len({person for person, _ in changed}), months=[],
                source_orgs=sorted({owner for _, owner in changed}),
                committed_at=datetime.now(UTC), alert_counts=counted.open,
                alerts_withdrawn=counted.withdrawn,
            )
            await self._nc.publish(projection_changes("alerts"), change.model_dump_json().encode())
            self._announced = position
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning("could not announce the new alerts: %s", exc)

    async def _doorbell(self, _msg: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Until `stop()`: evaluate at start, on each commit announcement and every interval."""
        await self._ensure_stream()
        subscriptions = [
            await self._nc.subscribe(projection_changes(name), cb=self._doorbell)
            for name in ("tracker", "dataset")
        ]
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    await self.evaluate_once()
                except (nats.errors.Error, OSError, TimeoutError) as exc:
                    log.warning("alert round stopped by the bus (%s): the next round resumes",
                                exc)
                try:
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                    if not self._stopping.is_set():
                        await asyncio.sleep(self.settle)  # coalesce a burst of commits
                except TimeoutError:
                    pass
        finally:
            for subscription in subscriptions:
                try:
                    await subscription.unsubscribe()
                except nats.errors.Error:
                    pass

    async def _ensure_stream(self) -> None:
        while True:
            try:
                await ensure_stream(self._nc.jetstream(), alerts_stream())
                return
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.warning("waiting for the bus to create SEND_ALERTS: %s", exc)
                await asyncio.sleep(1)
