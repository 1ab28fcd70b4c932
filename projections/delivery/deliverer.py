"""The delivery process of one webhook endpoint: each of its sources through a durable
consumer to the partner's URL, at least once, in stream order.

Why it is built so:
- One durable pull consumer per endpoint and source (`webhook-<name>-alerts`, `…-feed`) on
  SEND_ALERTS / SEND_FEEDS, filtered to the partner's own subjects. The server keeps the
  position, so a restart of this process or of nats-server resumes where the last ack was:
  nothing acknowledged is sent again, nothing unacknowledged is lost.
- A message is acknowledged only after the partner answered 2xx (or after it was
  dead-lettered). A crash in between sends it again: at least once, and the CloudEvent `id`
  is the same every time, so the receiver deduplicates by it.
- Messages go one at a time, in order; a failing partner is retried with exponential backoff
  (`backoff.py`) for the endpoint's `retry_for_seconds`, the message kept in progress
  (`in_progress`) so the server does not hand it to another delivery meanwhile. Then it is
  dead-lettered with the last error (`dead_letters.py`) and the next one goes.
- A stall is a failure like any other: each attempt has the endpoint's timeout.
- A feed delivery whose clause opened personal fields (`Sendx-Opened`) is posted with them in
  clear in the event's payload (`cloudevent.with_opened`), read with the partner's feed key
  (`runtime.feedkeys.read_feed_key`, as the `deliverer` login): the receiver is the entitled
  partner, over HTTPS and signed. A key gone (erased since) posts the event with them sealed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import httpx
import nats.errors
import orjson
from cloudevents.core.exceptions import BaseCloudEventException
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts.feeds import FEEDS_STREAM, OPENED_HEADER
from contracts.sealing import SealError, open_feed_fields
from projections.delivery.backoff import delay, should_retry
from projections.delivery.cloudevent import cloud_event, structured
from projections.delivery.config import Endpoint, Source
from projections.delivery.dead_letters import dead_letter_delivery
from projections.delivery.replay import StoredMessage
from projections.delivery.signing import SIGNATURE_HEADER, signature
from runtime.feedkeys import read_feed_key

log = logging.getLogger(__name__)

BATCH = 1
"""One message in flight per source: strict order, and nothing fetched waits out its ack_wait
(to be redelivered behind our back) while an earlier one is being retried."""
USER_AGENT = "send-exchange-webhooks/1"


class Delivery:
    """Delivers one endpoint's sources until `stop()`."""

    def __init__(self, nc: Client, endpoint: Endpoint, env: Mapping[str, str] | None = None,
                 ) -> None:
        self._nc, self.endpoint = nc, endpoint
        self._key = endpoint.key(env) if env is not None else endpoint.key()
        self._stopping = asyncio.Event()
        self.delivered = 0
        self.dead_lettered = 0
        self.failures = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        timeout = httpx.Timeout(self.endpoint.timeout_seconds)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            await asyncio.gather(*(self._consume(http, s) for s in self.endpoint.sources))

    async def _subscribe(self, source: Source):  # noqa: ANN202 - nats-py's JetStream sub
        stream, subject = self.endpoint.stream_and_filter(source)
        config = ConsumerConfig(
            durable_name=self.endpoint.consumer(source), deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT, ack_wait=self.endpoint.ack_wait_seconds,
            max_deliver=-1, max_ack_pending=BATCH, filter_subject=subject,
        )
        said = False
        while not self._stopping.is_set():
            try:
                return await self._nc.jetstream().pull_subscribe(
                    subject, durable=config.durable_name, stream=stream, config=config)
            except NotFoundError:
                why = f"stream {stream} does not exist yet"
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                why = f"the bus: {exc}"
            if not said:  # once, not every second of a long wait
                log.warning("webhook %s: waiting for %s", self.endpoint.name, why)
                said = True
            await self._pause(None, 1.0)
        return None

    async def _consume(self, http: httpx.AsyncClient, source: Source) -> None:
        sub = await self._subscribe(source)
        if sub is None:
            return
        stream, _ = self.endpoint.stream_and_filter(source)
        while not self._stopping.is_set():
            try:
                msgs: list[Msg] = await sub.fetch(BATCH, timeout=1.0)
            except TimeoutError:
                continue
            except (nats.errors.Error, OSError) as exc:
                log.warning("webhook %s: fetch failed (%s); retrying", self.endpoint.name, exc)
                await self._pause(None, 1.0)
                continue
            for msg in msgs:
                if self._stopping.is_set():
                    return  # unacknowledged: the server redelivers it after ack_wait
                await self._deliver(http, stream, msg)

    async def _deliver(self, http: httpx.AsyncClient, stream: str, msg: Msg) -> None:
        stored = StoredMessage(stream, msg.metadata.sequence.stream, msg.subject, msg.data,
                               dict(msg.headers or {}))
        try:
            opened = await self._opened(stored)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning("webhook %s: feed key of %s not read (%s): it will be redelivered",
                        self.endpoint.name, stored.sequence, exc)
            return  # unacknowledged: the server redelivers it after ack_wait
        try:
            headers, body = structured(cloud_event(
                stream, stored.sequence, stored.subject, stored.data, stored.headers, opened))
        except (ValueError, BaseCloudEventException) as exc:
            await self._give_up(msg, stored, f"not a JSON event: {exc}", 0)
            return
        started, attempt = time.monotonic(), 0
        while not self._stopping.is_set():
            attempt += 1
            await _quietly(msg.in_progress())
            error = await self._post(http, headers, body)
            if error is None:
                await _quietly(msg.ack_sync())
                self.delivered += 1
                return
            self.failures += 1
            wait = delay(attempt, self.endpoint.first_retry_seconds,
                         self.endpoint.max_retry_seconds)
            if not should_retry(time.monotonic() - started, wait,
                                self.endpoint.retry_for_seconds):
                await self._give_up(msg, stored, error, attempt)
                return
            log.info("webhook %s: attempt %d of %s failed (%s); next in %.1f s",
                     self.endpoint.name, attempt, stored.sequence, error, wait)
            await self._pause(msg, wait)

    async def _opened(self, stored: StoredMessage) -> dict[str, object] | None:
        """The values of a feed delivery's opened fields, read with the partner's feed key;
        None when it has none or the key is gone (erased)."""
        tokens = stored.headers.get(OPENED_HEADER)
        if stored.stream != FEEDS_STREAM or not tokens:
            return None
        try:
            event, opened = orjson.loads(stored.data), orjson.loads(tokens)
            recipient = stored.subject.split(".")[2]  # send.feed.<recipient>.<source>...
            key = await read_feed_key(self._nc.jetstream(), recipient, event["source_org"],
                                      event["person_key"])
            return None if key is None else open_feed_fields(event, opened, key, recipient)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, SealError) as exc:
            log.warning("webhook %s: opened fields of %s not read (%s): posted sealed",
                        self.endpoint.name, stored.sequence, exc)
            return None

    async def _post(self, http: httpx.AsyncClient, headers: dict[str, str],
                    body: bytes) -> str | None:
        """None when the partner accepted it (2xx); else what went wrong."""
        signed = {**headers, "User-Agent": USER_AGENT,
                  SIGNATURE_HEADER: signature(self._key, int(time.time()), body)}
        try:
            response = await http.post(str(self.endpoint.url), content=body, headers=signed)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    async def _give_up(self, msg: Msg, stored: StoredMessage, error: str, attempts: int) -> None:
        """Dead-letter, then ack; if the letter cannot be stored the message stays unacked."""
        try:
            await dead_letter_delivery(self._nc.jetstream(), self.endpoint.name,
                                       self.endpoint.org, stored, error, attempts)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning("webhook %s: could not dead-letter %s (%s): it will be redelivered",
                        self.endpoint.name, stored.sequence, exc)
            return
        log.warning("webhook %s: dead-lettered %s %s after %d attempts: %s",
                    self.endpoint.name, stored.stream, stored.sequence, attempts, error)
        self.dead_lettered += 1
        await _quietly(msg.ack_sync())

    async def _pause(self, msg: Msg | None, seconds: float) -> None:
        """Wait `seconds` (less if stopped), keeping `msg` in progress meanwhile."""
        step = max(self.endpoint.ack_wait_seconds / 3, 0.2)
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), min(step, left))
            except TimeoutError:
                if msg is not None:
                    await _quietly(msg.in_progress())


async def _quietly(call: object) -> None:
    """An ack or progress note lost to a bus outage only means one more redelivery."""
    try:
        await call  # type: ignore[misc]
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        log.info("webhook: ack/progress not confirmed (%s): the message may come again", exc)
