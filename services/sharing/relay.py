"""The relay: shares what one organisation stored, in order, exactly once, on JetStream.

Written once for every service kind. It follows the Application's notification log, turns each
stored event into a contract `Envelope` with the kind's translate function (None = not shared),
checks the topology, chains `prev_hash`, publishes a batch with `publish_async` and, only after
JetStream acknowledged it, records the last notification id and hash in the organisation's own
database (`services.sharing.checkpoint`). After a crash it republishes from the checkpoint: the
event ids are deterministic and the stream's duplicate window drops what was already stored, so
nothing is lost and nothing doubles.

Batches are pipelined: while JetStream acknowledges the batches already sent (at most
`in_flight` of them), the next is read, translated, sealed and chained on from the last one sent,
then sent. Checkpoints still follow the acknowledgements in order: a batch is recorded only
once it and every batch before it were acknowledged, and the first failure stops sending, so
the relay resumes from the longest acknowledged prefix. Waiting for every batch before reading
the next held the relay to a fraction of what JetStream takes (bench/findings.md, "Relay").

Pipelining alone would let a later event be stored while an earlier one is refused or lost (a
leader crash, a full stream): resent, the earlier one would land after it and break the
organisation's chain in stream order. So every event is published on a condition the server
checks: the first of a round expects the organisation's last stored event at the stream
sequence the relay knows (`Nats-Expected-Last-Subject-Sequence` over the organisation's own
subjects), each later one that the stream's last message is the event sent just before it
(`Nats-Expected-Last-Msg-Id`; event ids are unique, so this cannot match by accident). What
JetStream stores of a pipelined round is therefore always a prefix, in order; the rest is
refused and resent from the checkpoint. The sequence comes from the acknowledgements or, when
unknown (a start, a failure), from one event sent alone: stored, or refused by the server naming
the real sequence. Another organisation's event landing between two of ours only makes the relay
resend at once from the first refused event, on the sequence the server named.

Personal payload fields are sealed under the organisation's key for the person
(`contracts.sealing`, keys from `runtime.keystore`) before the bytes are chained, so the chain
covers the ciphertext and survives erasure. Sealing is deterministic, so a republished event
has the same bytes. An erased person's personal fields are withheld. A `person.erased` event
deletes the organisation's key for the person before it is published, and always starts a
batch of its own: whatever precedes it is acknowledged (and checkpointed) with the bytes sealed
under the key, and nothing after it can be re-sealed differently on a retry; so an erasure also
waits until every batch sent before it is acknowledged.

An event the relay cannot publish (translator or contract refuses it, topology, encoding, size)
never holds the organisation: it is quarantined in the organisation's own store with the reason
(`services.sharing.quarantine`), logged, and the relay goes on with the next event; the chain links
the published events only. Transient failures (the store or the bus away) are retried from the
checkpoint instead. A quarantined event is republished, after a fix, from a `Release` in the
log (`sendx quarantine republish`), with its original event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import nats.errors
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError
from nats.js import JetStreamContext
from nats.js.api import Header

from contracts.chain import bytes_hash
from contracts.codec import encode
from contracts.envelope import Envelope, Payload
from contracts.sealing import ERASURE_TYPE, key_name, personal_fields, seal, withhold
from contracts.subjects import event_subject, org_events
from contracts.topology import Organisation
from runtime.bus.streams import EVENTS_STREAM
from runtime.keystore import PersonKeyStore
from runtime.store import RunBlocking
from services.domain.aggregates import event_id_for
from services.sharing.checkpoint import Checkpoint, Position, checkpoint_for
from services.sharing.quarantine import Problem, QuarantineTable, Release, quarantine_for
from services.sharing.stream_order import (
    deliver_refusals,
    is_out_of_turn,
    last_sequence_in_refusal,
)

log = logging.getLogger(__name__)


MAX_EVENT_BYTES = 1024 * 1024 - 4096
"""The largest encoded event the relay publishes: SEND_EVENTS' `max_msg_size` (1 MiB) and the
servers' `max_payload`, less room for the subject and headers. A larger one is quarantined."""

TRANSIENT = (PersistenceError, OSError, TimeoutError, nats.errors.Error)
"""Failures of the store or the bus rather than of one event: retried from the checkpoint."""


class TopologyViolation(RuntimeError):
    """The service tried to publish something its organisation may not: a bug in its
    translator; the event is quarantined, never published."""


class RelayError(RuntimeError):
    """JetStream did not acknowledge a batch; it will be retried from the checkpoint."""

    def __init__(self, message: str, *, out_of_turn: bool = False) -> None:
        super().__init__(message)
        self.out_of_turn = out_of_turn
        """Refused only because the organisation's last stored event was not the one expected
        (resent at once, from the sequence the server named)."""


@dataclass(frozen=True)
class Stamp:
    """What the relay fixes about a stored event; translators add payload and person."""

    event_id: UUID
    source_org: str
    source_position: int
    recorded_at: datetime

    def wrap(
        self,
        payload: Payload,
        *,
        person_key: str,
        occurred_at: datetime,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> Envelope:
        return Envelope.wrap(
            payload,
            source_org=self.source_org,
            person_key=person_key,
            occurred_at=occurred_at,
            source_position=self.source_position,
            event_id=self.event_id,
            recorded_at=self.recorded_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )


Translate = Callable[[Any, Stamp], Envelope | None]


@dataclass(frozen=True)
class Outgoing:
    notification_id: int
    envelope: Envelope | None  # None: stored but not shared; the position still advances
    subject: str = ""
    body: bytes = b""
    body_hash: str | None = None
    problem: Problem | None = None
    """Why it cannot be published: quarantined once the batch is settled (envelope is None)."""
    releases: int | None = None
    """The quarantined notification this `Release` republishes (the envelope is its event)."""

    def encoded(self, envelope: Envelope, body: bytes, body_hash: str) -> Outgoing:
        """This item chained: `envelope` with its `prev_hash`, as the bytes that travel.
        (`dataclasses.replace` did the same at several times the cost, once per event.)"""
        return Outgoing(self.notification_id, envelope, self.subject, body, body_hash,
                        self.problem, self.releases)

    def quarantined(self, reason: str) -> Outgoing:
        """This item, withheld from the stream for `reason`."""
        envelope = self.envelope
        assert envelope is not None
        problem = Problem(self.releases or self.notification_id, envelope.event_id,
                          envelope.type, reason)
        return Outgoing(self.notification_id, None, problem=problem, releases=self.releases)


@dataclass(frozen=True)
class SentBatch:
    """A batch handed to JetStream whose acknowledgements may still be coming back."""

    outgoing: list[Outgoing]
    acks: list[asyncio.Future[Any]]
    """One per shared event of `outgoing`, in order."""
    end: Position
    """Where the batch ends: the next batch starts after it and chains on from its last hash."""


def check_topology(org: Organisation, envelope: Envelope, subject: str) -> None:
    """The org may publish only its kind's event types, only as itself, under its prefix."""
    if envelope.source_org != org.code:
        raise TopologyViolation(
            f"organisation {org.code} tried to publish {envelope.type} as source_org "
            f"{envelope.source_org}"
        )
    if not org.may_publish(envelope.type):
        raise TopologyViolation(
            f"organisation {org.code} ({org.kind.value}) may not publish {envelope.type}: "
            f"see contracts.topology.PUBLISHES[{org.kind.name}]"
        )
    if not subject.startswith(org_events(org.code)[:-1]):
        raise TopologyViolation(f"subject {subject} is outside {org_events(org.code)}")


class Relay:
    def __init__(
        self,
        app: Application,
        org: Organisation,
        translate: Translate,
        js: JetStreamContext,
        *,
        checkpoint: Checkpoint | None = None,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        ack_timeout: float = 10.0,
        in_flight: int = 2,
        keys: PersonKeyStore | None = None,
        run_blocking: RunBlocking = asyncio.to_thread,
        quarantine: QuarantineTable | None = None,
        max_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.app, self.org, self.translate, self.js = app, org, translate, js
        if isinstance(js, JetStreamContext):
            deliver_refusals(js)  # an out-of-turn refusal must not wait for the ack timeout
        self.run_blocking = run_blocking
        self.keys = keys or PersonKeyStore(js)
        self.checkpoint = checkpoint or checkpoint_for(app)
        self.quarantine = quarantine or quarantine_for(app)
        self.max_bytes = max_bytes
        self._releasing: set[int] = set()
        """Quarantined notifications republished by batches not yet settled."""
        self.position = self.checkpoint.load()
        self.batch_size, self.poll_interval, self.ack_timeout = (
            batch_size,
            poll_interval,
            ack_timeout,
        )
        if in_flight < 1:
            raise ValueError(
                f"in_flight is how many batches may await acks: at least 1, not {in_flight}"
            )
        self.in_flight = in_flight
        self._poked = asyncio.Event()
        self._last_seq: int | None = None
        """The stream sequence of the organisation's last stored event, as far as the relay
        knows (None: unknown, learnt by sending one event alone); a round's first event
        expects it."""
        self._predecessor: str | None = None
        """The event id of the last event sent in this round (None: the round starts)."""
        self._acknowledged_events = 0

    def poke(self) -> None:
        """Something was just saved: publish now rather than at the next poll."""
        self._poked.set()

    async def run(self) -> None:
        """Publish until cancelled; failures of the bus or the store are retried (an event that
        cannot be published is quarantined, so nothing holds the relay)."""
        while True:
            self._poked.clear()
            try:
                await self.publish_pending()
            except Exception as exc:  # the bus may be restarting; the checkpoint is safe
                log.warning(
                    "relay %s: %s; retrying in %.1fs", self.org.code, exc, self.poll_interval
                )
            try:
                await asyncio.wait_for(self._poked.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def publish_pending(self) -> int:
        """Publish everything not yet acknowledged; returns how many events were published.

        Up to `in_flight` batches await their acknowledgements while the next one is prepared
        and sent; they are settled (checkpointed) strictly in order. A window the server cut
        short only because an event was out of turn is resent at once while that makes
        progress (each round stores at least its first event once the sequence is known)."""
        acknowledged = self._acknowledged_events
        while True:
            before, known = self.position, self._last_seq is not None
            try:
                await self._publish_window()
                return self._acknowledged_events - acknowledged
            except RelayError as exc:
                progressed = self.position != before or (not known and self._last_seq is not None)
                if not (exc.out_of_turn and progressed):
                    raise

    async def _publish_window(self) -> None:
        """Send and settle batches until the log is exhausted, or one is not stored."""
        sent: deque[SentBatch] = deque()
        self._predecessor = None
        try:
            while True:
                ahead = sent[-1].end if sent else self.position
                try:
                    translated = await self._read(ahead)
                    if translated is None:
                        break
                    if sent and _is_erasure(translated[0].envelope):
                        await self._settle_all(sent)  # the key goes after them
                        ahead = self.position
                    probe = self._last_seq is None
                    sent.append(await self._send(self._probing(translated), ahead))
                    if probe:
                        await self._settle_all(sent)
                except Exception:
                    await self._settle_all(sent)  # record the acknowledged
                    raise
                while len(sent) > self.in_flight:
                    await self._settle(sent.popleft())
            await self._settle_all(sent)
        finally:
            for batch in sent:  # cancelled, or failed: none of these can be stored out of turn
                for ack in batch.acks:
                    ack.cancel()
            self._releasing.clear()  # what was not settled is read again from the checkpoint

    async def publish_batch(self) -> int | None:
        """One batch from the checkpoint on, waiting for its acknowledgements; None when there
        was nothing new."""
        translated = await self._read(self.position)
        if translated is None:
            return None
        self._predecessor = None
        return await self._settle(await self._send(self._probing(translated), self.position))

    def _probing(self, translated: list[Outgoing]) -> list[Outgoing]:
        """The batch, or while the organisation's last stream sequence is unknown only up to
        its first shared event: sent alone, it is stored or refused naming the sequence."""
        if self._last_seq is not None:
            return translated
        return translated[: _first_shared(translated) + 1]

    def on_acknowledged(self, published: int) -> None:
        """Called with the events of each batch JetStream acknowledged (a hook for metrics)."""

    def on_quarantined(self, problem: Problem) -> None:
        """Called once the quarantine of `problem` is recorded: one log line per event."""
        log.error(
            "relay %s quarantined stored event %s (%s, event id %s): %s; it is not published "
            "and later events go on; once fixed: sendx quarantine republish --org %s %s",
            self.org.code, problem.notification_id, problem.stored_type, problem.event_id,
            problem.reason, self.org.code, problem.notification_id,
        )

    async def _read(self, after: Position) -> list[Outgoing] | None:
        """The next batch after `after`, translated and checked; None when there is none."""
        notifications = await self.run_blocking(
            self.app.recorder.select_notifications,
            start=after.notification_id + 1,
            limit=self.batch_size,
        )
        if not notifications:
            return None
        return await self.run_blocking(self.translate_batch, notifications)

    async def _send(self, translated: list[Outgoing], after: Position) -> SentBatch:
        """Seal, chain on from `after` and hand the batch to JetStream without waiting."""
        sealed = await self.seal_batch(translated)
        for dropped in translated[len(sealed):]:  # cut before an erasure: read again next batch
            self._releasing.discard(dropped.releases or 0)
        outgoing = self.chain(sealed, after.last_hash, self.max_bytes)
        acks = await self.publish(outgoing)
        last_hash = next((o.body_hash for o in reversed(outgoing) if o.body_hash), None)
        end = Position(outgoing[-1].notification_id, last_hash or after.last_hash)
        return SentBatch(outgoing, acks, end)

    async def publish(self, outgoing: list[Outgoing]) -> list[asyncio.Future[Any]]:
        """Hand the chained batch's shared events to JetStream, each in turn after the one
        before; one acknowledgement future per event, not awaited."""
        acks = []
        for o in outgoing:
            if o.envelope is None:
                continue
            event_id = str(o.envelope.event_id)
            acks.append(await self.js.publish_async(
                o.subject, o.body, stream=EVENTS_STREAM, headers=self._in_turn(event_id)
            ))
            self._predecessor = event_id
        return acks

    def _in_turn(self, event_id: str) -> dict[str, str]:
        """The headers that let JetStream store `event_id` only right after its predecessor."""
        if self._predecessor is not None:
            return {Header.MSG_ID: event_id, Header.EXPECTED_LAST_MSG_ID: self._predecessor}
        return {
            Header.MSG_ID: event_id,
            Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(self._last_seq or 0),
            EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: org_events(self.org.code),
        }

    async def _settle(self, batch: SentBatch) -> int:
        """Wait for the batch's acknowledgements and checkpoint its acknowledged prefix; raise
        if some event was not stored (the caller sends nothing more)."""
        position, published, failure = self._acknowledged(
            batch.outgoing, await self._acks(batch.acks)
        )
        settled = [o for o in batch.outgoing if o.notification_id <= position.notification_id]
        problems = [o.problem for o in settled if o.problem is not None]
        republished = [(o.releases, o.notification_id) for o in settled
                       if o.releases is not None and o.problem is None and o.envelope is not None]
        if problems or republished:  # recorded before the checkpoint passes them
            await self.run_blocking(self.quarantine.record, problems, republished)
        self._releasing.difference_update(o.releases for o in batch.outgoing if o.releases)
        if position != self.position:
            await self.run_blocking(self.checkpoint.save, position)
            self.position = position
        for problem in problems:
            self.on_quarantined(problem)
        if published:
            self._acknowledged_events += published
            self.on_acknowledged(published)
        if failure is not None:
            # what the acks said stands (nothing after a failure is stored), unless the server
            # named where the organisation's events really end (an ack lost, a restart)
            self._last_seq = last_sequence_in_refusal(failure) or self._last_seq
            raise RelayError(
                f"JetStream did not store an event: {failure}",
                out_of_turn=is_out_of_turn(failure),
            ) from failure
        return published

    async def _settle_all(self, sent: deque[SentBatch]) -> int:
        total = 0
        while sent:
            total += await self._settle(sent.popleft())
        return total

    def translate_batch(self, notifications: list[Notification]) -> list[Outgoing]:
        """Translate and check a batch (pure apart from reading the store); not yet encoded.
        An event that cannot be shared comes back with its `problem`, to be quarantined."""
        return [self._translate_one(n, n) for n in notifications]

    def _translate_one(self, notification: Notification, at: Notification) -> Outgoing:
        """`notification`'s event as the item at `at`'s position in the log (the same, or the
        `Release` republishing it)."""
        try:
            event = self.app.mapper.to_domain_event(notification)
            if isinstance(event, Release.Requested) and at is notification:
                return self._release(notification, event.notification_id)
            stamp = Stamp(
                event_id=event_id_for(event.originator_id, event.originator_version),
                source_org=self.org.code,
                source_position=at.id,
                recorded_at=event.timestamp,
            )
            envelope = self.translate(event, stamp)
            if envelope is None:
                return Outgoing(at.id, None)
            subject = event_subject(envelope.source_org, envelope.type, envelope.person_key)
            check_topology(self.org, envelope, subject)
            return Outgoing(at.id, envelope, subject)
        except TRANSIENT:
            raise
        except Exception as exc:  # this event, not the bus: quarantine it and go on
            topic = notification.topic.rpartition(":")[2] or notification.topic
            reason = f"cannot be shared as a contract event: {type(exc).__name__}: {exc}"
            event_id = event_id_for(notification.originator_id, notification.originator_version)
            return Outgoing(at.id, None, problem=Problem(notification.id, event_id, topic, reason))

    def _release(self, release: Notification, original_id: int) -> Outgoing:
        """Republish quarantined notification `original_id` at the release's position, unless
        it is no longer quarantined (published already, or by a batch still in flight)."""
        entry = self.quarantine.get(original_id)
        if entry is None or not entry.open or original_id in self._releasing:
            return Outgoing(release.id, None)
        found = self.app.recorder.select_notifications(start=original_id, limit=1)
        if not found or found[0].id != original_id:
            return Outgoing(release.id, None)
        self._releasing.add(original_id)
        return replace(self._translate_one(found[0], release), releases=original_id)

    async def seal_batch(self, batch: list[Outgoing]) -> list[Outgoing]:
        """Seal personal fields; carry out an erasure (cutting the batch before it, if needed)."""
        erasures = [i for i, o in enumerate(batch) if _is_erasure(o.envelope)]
        if erasures and erasures[0] > 0:
            batch = batch[: erasures[0]]
        elif erasures:
            erased = batch[0].envelope.person_key  # type: ignore[union-attr]
            await self.keys.erase(self.org.code, erased)
            batch = batch[: erasures[1]] if len(erasures) > 1 else batch
        keys = await self._keys({
            o.envelope.person_key
            for o in batch
            if o.envelope is not None and personal_fields(o.envelope.payload)
        })
        sealed: list[Outgoing] = list(batch)
        for index, item in enumerate(batch):  # the rest have nothing to seal or withhold
            envelope = item.envelope
            if envelope is None or not personal_fields(envelope.payload):
                continue
            key = keys[envelope.person_key]
            try:
                envelope = withhold(envelope) if key is None else seal(envelope, key)
            except ValueError as exc:
                sealed[index] = item.quarantined(f"cannot be sealed: {exc}")
                continue
            sealed[index] = replace(item, envelope=envelope)
        return sealed

    async def _keys(self, people: set[str]) -> dict[str, bytes | None]:
        """The organisation's key for each person (None: erased); only those not already
        cached cost a round trip to the key store (and a task each)."""
        keys: dict[str, bytes | None] = {}
        missing = []
        for person in people:
            known = self.keys.cached(key_name(self.org.code, person))
            if known is None:
                missing.append(person)
            else:
                keys[person] = known
        found = await asyncio.gather(*(self.keys.key_for(self.org.code, p) for p in missing))
        keys.update(zip(missing, found, strict=True))
        return keys

    @staticmethod
    def chain(
        batch: list[Outgoing], last_hash: str | None, max_bytes: int = MAX_EVENT_BYTES
    ) -> list[Outgoing]:
        """Chain `prev_hash` through the batch and encode each event (pure); an event that
        cannot be encoded or is too large is quarantined and left out of the chain."""
        chained: list[Outgoing] = []
        for item in batch:
            if item.envelope is None:
                chained.append(item)
                continue
            envelope = item.envelope.model_copy(update={"prev_hash": last_hash})
            try:
                body = encode(envelope)
            except (TypeError, ValueError) as exc:
                chained.append(item.quarantined(f"cannot be encoded: {exc}"))
                continue
            if len(body) > max_bytes:
                chained.append(item.quarantined(
                    f"is {len(body)} bytes encoded, more than the {max_bytes} bytes one event "
                    f"may take on the bus"
                ))
                continue
            last_hash = bytes_hash(body)
            chained.append(item.encoded(envelope, body, last_hash))
        return chained

    async def _acks(self, futures: list[asyncio.Future[Any]]) -> list[object]:
        """Each future's acknowledgement or the exception it failed with, within the timeout."""
        try:
            return await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self.ack_timeout
            )
        except TimeoutError:
            for future in futures:
                future.cancel()
            return [
                f.result()
                if f.done() and not f.cancelled() and not f.exception()
                else TimeoutError("no acknowledgement")
                for f in futures
            ]

    def _acknowledged(
        self, outgoing: list[Outgoing], results: list[object]
    ) -> tuple[Position, int, BaseException | None]:
        """The position after the longest acknowledged prefix of the batch."""
        position, published, acks = self.position, 0, iter(results)
        for item in outgoing:
            if item.envelope is not None:
                result = next(acks)
                if isinstance(result, BaseException):
                    return position, published, result
                self._last_seq = max(self._last_seq or 0, result.seq)  # type: ignore[attr-defined]
                published += 1
                position = Position(item.notification_id, item.body_hash)
            else:
                position = Position(item.notification_id, position.last_hash)
        return position, published, None


EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
"""Which subjects `Nats-Expected-Last-Subject-Sequence` looks at (nats-server 2.11+): here the
organisation's own."""


def _first_shared(batch: list[Outgoing]) -> int:
    """The index of the batch's first event to publish (the last index if there is none)."""
    return next((i for i, o in enumerate(batch) if o.envelope is not None), len(batch) - 1)


def _is_erasure(envelope: Envelope | None) -> bool:
    return envelope is not None and envelope.type == ERASURE_TYPE
