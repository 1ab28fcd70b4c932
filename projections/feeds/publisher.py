"""Publishing decided deliveries to SEND_FEEDS, exactly once per (recipient, event).

Each delivery the feed store recorded is published with its ack awaited later
(`runtime.bus.pubacks`: many in flight, one wait for all the acknowledgements), its body the
event's bytes as the runner fetched them (`bodies`, filled by
`projections.feeds.process.FeedRunner`) or, for a delivery decided before a restart or released
late (`include_earlier`), read back from SEND_EVENTS by sequence (batched
direct gets, `projections.reading.direct`): what the recipient receives is byte for byte what
the source published, so its hash chain and sealed fields are untouched.
Where the delivery's clause opens personal fields (`Clause.open_fields`) that the event carries
sealed, they are opened with the source's person key and sealed again under the recipient's
feed key (`runtime.feedkeys`, `contracts.sealing.reseal_for_feed`), in the `Sendx-Opened`
header; deterministic, so a republish is byte for byte the same. No person key (the source
erased them) or no feed key (purged: either side erased them): nothing is opened, the delivery
goes without the header.
`Nats-Msg-Id` is `<recipient>.<event_id>`: a delivery published but not marked before a crash
is published again after the restart and the stream drops the copy (duplicate window 24 h).
Only acknowledged deliveries are marked, so nothing is lost while the server is away.

One recipient the server will not take (its feed subject not yet in the rendered NATS
permissions after an agreement named it live, or its share of the feeds' ceiling full) holds
up no one else: a round marks each recipient's acknowledged prefix, and a recipient with a
delivery unacknowledged while the server answers (an ack for another, or a flush) is held back
(`Holds`: 2 s, doubling to 60 s) and tried again, in order, after that; a server that does not
answer at all holds no one (every delivery waits for it, as before).

With an access log (`projections.access.log`, the one the API writes), each published round
adds one line per recipient and clause: organisation, `FEED send.feed.<org>.>`, the clause and
agreement, and how many person-level events were delivered, beside the API's reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import nats.errors
import orjson
from nats.aio.client import Client
from nats.js.api import PubAck

from contracts.agreements import Agreement
from contracts.feeds import (
    AGREEMENT_HEADER,
    CLAUSE_HEADER,
    MSG_ID_HEADER,
    OPENED_HEADER,
    SOURCE_SEQ_HEADER,
    delivery_id,
    feed_subject,
    org_feed,
)
from contracts.sealing import SealError, reseal_for_feed
from contracts.subjects import ALL_EVENTS
from projections.access.log import AccessLog, AccessRecord
from projections.feeds.store import FeedStore, PendingDelivery
from projections.reading.direct import SEQUENCE_HEADER, DirectReader
from runtime.bus.pubacks import PubAcks
from runtime.bus.streams import EVENTS_STREAM
from runtime.feedkeys import FeedKeyStore
from runtime.keystore import PersonKeyStore

log = logging.getLogger(__name__)

BATCH = 2_000
"""Deliveries published per round (all in flight at once, then one wait for their acks)."""
ACK_TIMEOUT = 10.0
IDLE_WAIT = 1.0
HOLD_FIRST = 2.0
HOLD_MAX = 60.0


class Holds:
    """Recipients held back after the server left a delivery of theirs unacknowledged while it
    answered others: each for a wait doubling from `HOLD_FIRST` to `HOLD_MAX`, reset once one
    of theirs is acknowledged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._wait: dict[str, float] = {}

    def held(self) -> set[str]:
        now = self._clock()
        return {r for r, until in self._until.items() if until > now}

    def hold(self, recipient: str) -> float:
        """Hold `recipient`; the seconds it is held for."""
        wait = min(self._wait.get(recipient, HOLD_FIRST / 2) * 2, HOLD_MAX)
        self._wait[recipient], self._until[recipient] = wait, self._clock() + wait
        return wait

    def release(self, recipient: str) -> None:
        self._until.pop(recipient, None)
        self._wait.pop(recipient, None)


class FeedPublisher:
    """Publishes what `store` decided until `stop()`; `wake()` after each commit."""

    def __init__(
        self, nc: Client, store: FeedStore, batch: int = BATCH,
        access_log: AccessLog | None = None, agreement: Agreement | None = None,
    ) -> None:
        self._nc, self._store, self._batch = nc, store, batch
        self._access_log = access_log
        self._open_fields: Mapping[str, tuple[str, ...]] = {}
        """Clause id -> the personal fields it opens (a clause no longer in the agreement, for
        a delivery decided before a change, opens nothing)."""
        if agreement is not None:
            self.use(agreement)
        self.bodies: dict[int, bytes] = {}
        """SEND_EVENTS sequence -> stored bytes of events fetched but not yet past the
        publisher (pruned each round below the first delivery still to publish)."""
        self._js = nc.jetstream(publish_async_max_pending=batch * 2)
        self._acks = PubAcks(nc)
        self._person_keys = PersonKeyStore(self._js)
        self._feed_keys = FeedKeyStore(self._js)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.holds = Holds()
        self.published = 0

    def use(self, agreement: Agreement) -> None:
        """Open what `agreement`'s clauses open, from the next delivery on."""
        self._open_fields = {c.id: c.open_fields for c in agreement.clause if c.open_fields}

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            held = self.holds.held()
            pending = await asyncio.to_thread(self._store.pending, self._batch, held)
            # (the store's lock may be held by a commit: never wait for it on the event loop)
            self._prune(pending[0].seq if pending  # (a held recipient's are read back later)
                        else await asyncio.to_thread(self._store.position) + 1)
            if not pending:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_WAIT)
                except TimeoutError:
                    pass
                continue
            try:
                acked, refused = await self.publish(pending)
                if refused and not acked:
                    await self._nc.flush(ACK_TIMEOUT)  # is the server there at all?
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("feed publisher: bus unavailable (%s); retrying", exc)
                await self._pause()
                continue
            self._settle_holds(acked, refused)
            await asyncio.to_thread(self._store.mark_delivered, acked)
            self.published += len(acked)
            if self._access_log is not None:
                await asyncio.to_thread(self._log, acked)
        await self._acks.close()

    def _settle_holds(self, acked: Sequence[tuple[PendingDelivery, int]],
                      refused: set[str]) -> None:
        for recipient in {d.recipient for d, _ in acked} - refused:
            self.holds.release(recipient)
        for recipient in sorted(refused):
            wait = self.holds.hold(recipient)
            log.warning(
                "feed publisher: SEND_FEEDS did not acknowledge deliveries to %s (are its feed "
                "subjects in the rendered NATS permissions? sendx deploy nats-config, then reload "
                "nats-server); held back %.0f s, the other recipients' deliveries go on",
                recipient, wait)

    async def publish(
        self, pending: Sequence[PendingDelivery]
    ) -> tuple[list[tuple[PendingDelivery, int]], set[str]]:
        """Publish `pending`; (delivery, SEND_FEEDS sequence) of each recipient's acknowledged
        prefix, and the recipients with a delivery not acknowledged within `ACK_TIMEOUT`."""
        bodies = await self._bodies({d.seq for d in pending})
        opened = await asyncio.gather(*(self.opened(d, bodies[d.seq]) for d in pending))
        futures = []
        for d, tokens in zip(pending, opened, strict=True):
            headers = {
                MSG_ID_HEADER: delivery_id(d.recipient, d.event_id),
                AGREEMENT_HEADER: d.agreement_id,
                CLAUSE_HEADER: d.clause_id,
                SOURCE_SEQ_HEADER: str(d.seq),
            }
            if tokens is not None:
                headers[OPENED_HEADER] = tokens
            futures.append(await self._acks.publish(
                feed_subject(d.recipient, d.subject), bodies[d.seq], headers=headers,
            ))
        await asyncio.wait(futures, timeout=ACK_TIMEOUT)
        return acknowledged_prefixes(pending, futures)

    async def opened(self, d: PendingDelivery, body: bytes) -> str | None:
        """The `Sendx-Opened` header of one delivery: compact JSON {field: token} of the
        fields its clause opens that the event carries sealed; None when there are none or
        a key is gone (erased). A bus error raises: the round is retried."""
        fields = self._open_fields.get(d.clause_id)
        if not fields or b'"sealed":' not in body:
            return None
        event = orjson.loads(body)
        if not any(f in (event.get("sealed") or {}) for f in fields):
            return None
        source, person = event["source_org"], event["person_key"]
        person_key = await self._person_keys.lookup(source, person)
        feed_key = None if person_key is None else await self._feed_keys.key_for(
            d.recipient, source, person)
        if person_key is None or feed_key is None:
            return None
        try:
            tokens = reseal_for_feed(event, fields, person_key, feed_key, d.recipient)
        except SealError as exc:  # the runner dead-letters what does not open: not expected
            log.warning("feed: %s to %s not opened: %s", d.event_id, d.recipient, exc)
            return None
        return orjson.dumps(tokens).decode()

    def _log(self, acked: Sequence[tuple[PendingDelivery, int]]) -> None:
        """One access-log line per (recipient, clause, agreement) of a published round."""
        counts: Counter[tuple[str, str, str]] = Counter(
            (d.recipient, d.clause_id, d.agreement_id) for d, _ in acked
        )
        at = datetime.now(UTC)
        assert self._access_log is not None
        for (recipient, clause, agreement), count in counts.items():
            self._access_log.record(AccessRecord(
                at=at, token_name="feed process", role="partner", org=recipient,
                method="FEED", path=org_feed(recipient),
                query=f"agreement={agreement}&clause={clause}", status=200,
                person_rows=count, withheld_rows=0,
            ))

    def _prune(self, limit: int) -> None:
        """Forget bodies no delivery will need: below the first pending one, or (none pending)
        every one the store has folded."""
        for seq in [seq for seq in self.bodies if seq < limit]:
            del self.bodies[seq]

    async def _bodies(self, seqs: set[int]) -> dict[int, bytes]:
        """The stored bytes of each SEND_EVENTS sequence in `seqs`: from what the runner
        fetched, else one batched direct get per run of nearby sequences."""
        found = {seq: self.bodies[seq] for seq in seqs if seq in self.bodies}
        for start, stop in _runs(sorted(seqs - found.keys())):
            reader = await DirectReader(
                self._nc, EVENTS_STREAM, ALL_EVENTS, start=start, stop=stop,
                batch=min(stop - start + 1, 10_000),
            ).open()
            try:
                while msgs := await reader.next(ACK_TIMEOUT):
                    for msg in msgs:
                        seq = int((msg.headers or {})[SEQUENCE_HEADER])
                        if seq in seqs:
                            found[seq] = msg.data
            finally:
                await reader.close()
        missing = seqs - found.keys()
        if missing:
            raise nats.errors.Error(f"SEND_EVENTS did not return sequences {sorted(missing)[:5]}")
        return found

    async def _pause(self) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), IDLE_WAIT)
        except TimeoutError:
            pass


def acknowledged_prefixes(
    pending: Sequence[PendingDelivery], futures: Sequence[asyncio.Future[PubAck]]
) -> tuple[list[tuple[PendingDelivery, int]], set[str]]:
    """Each recipient's deliveries up to its first not acknowledged (so its feed keeps stream
    order: the rest go again, the duplicate window dropping any that did arrive), and the
    recipients that had one. Futures not done are cancelled; every error is retrieved."""
    acked: list[tuple[PendingDelivery, int]] = []
    refused: set[str] = set()
    for d, future in zip(pending, futures, strict=True):
        ok = future.done() and not future.cancelled() and future.exception() is None
        if not ok:
            future.cancel()
            refused.add(d.recipient)
        elif d.recipient not in refused:
            acked.append((d, future.result().seq))
    return acked, refused


RUN_GAP = 256
"""Sequences further apart than this are read by separate direct gets."""


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted sequences as (first, last) ranges, split where they are more than RUN_GAP apart."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq - runs[-1][1] <= RUN_GAP:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs
