"""Fetching batches from a durable JetStream pull consumer, with the messages delivered through
one subscription callback.

Why not nats-py's `PullSubscription.fetch`: it takes each message off the subscription's queue
with `asyncio.wait_for` (a task and a timer per message), which costs as much as the rest of
the projection runner's work on this machine; messages handed to a callback cost a third as
much. The pull protocol itself is the server's: a request on `$JS.API.CONSUMER.MSG.NEXT.<stream>
.<consumer>` with `batch`, and `no_wait` (answer now, 404 when empty) or `expires` (wait, 408
when expired); the messages and the status replies come to our inbox.

`fetch(n, timeout, wait=False)` returns what the consumer has now, at most n: a catching-up
runner asks for thousands at once. `fetch(1, timeout, wait=True)` returns as soon as one message
arrives: a caught-up runner then asks again, without waiting, for whatever came meanwhile.
(`wait=True` with n > 1 returns when n messages came or the request expired: not for live use.)
"""

from __future__ import annotations

import asyncio

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import StatusCode

REPLY_GRACE = 1.0
"""Seconds beyond `expires` to wait for the server's 408 before giving the request up."""
END_OF_REQUEST = (StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT)


async def unsubscribe_quietly(sub: Subscription | None) -> None:
    """Unsubscribe if subscribed; a connection already closed or gone has nothing to undo."""
    if sub is not None:
        try:
            await sub.unsubscribe()
        except (nats.errors.Error, ValueError):
            pass


class PullError(nats.errors.Error):
    """The server refused or ended a pull request with a status other than "no messages"."""


class BatchPull:
    """Pull requests on one durable consumer; `close()` when done (the consumer stays)."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._request = 0
        self._wanted = 0
        self._msgs: list[Msg] = []
        self._done: asyncio.Future[None] | None = None
        self._error: PullError | None = None

    async def open(self) -> BatchPull:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._received)
        return self

    async def close(self) -> None:
        await unsubscribe_quietly(self._sub)
        self._sub = None

    async def fetch(self, batch: int, timeout: float, *, wait: bool) -> list[Msg]:
        """Up to `batch` messages (see the module docstring); `nats.errors.TimeoutError` if none
        came within `timeout`, `PullError` if the server refused the request."""
        self._request += 1
        self._wanted, self._error = batch, None
        self._done = asyncio.get_running_loop().create_future()
        request: dict[str, object] = {"batch": batch}
        if wait:
            request["expires"] = int(timeout * 1e9)
        else:
            request["no_wait"] = True  # without `expires`, or the server would wait anyway
        if len(self._msgs) < batch:
            await self._nc.publish(
                self._next, orjson.dumps(request), reply=f"{self._inbox}.{self._request}"
            )
            try:
                await asyncio.wait_for(asyncio.shield(self._done), timeout + REPLY_GRACE)
            except TimeoutError:
                pass
        msgs, self._msgs = self._msgs[:batch], self._msgs[batch:]
        if self._error is not None and not msgs:
            raise self._error
        if not msgs:
            raise nats.errors.TimeoutError
        return msgs

    async def _received(self, msg: Msg) -> None:
        status = JetStreamContext.is_status_msg(msg)
        if status is None:
            # A message for an earlier, given-up request is still the consumer's next one:
            # kept for the next fetch, in delivery order.
            self._msgs.append(msg)
            if len(self._msgs) >= self._wanted:
                self._finish()
            return
        if not msg.subject.endswith(f".{self._request}"):
            return  # the end of an earlier request
        if status == StatusCode.CONTROL_MESSAGE:
            return  # an idle heartbeat
        if status not in END_OF_REQUEST:
            description = msg.headers.get("Description", "") if msg.headers else ""
            self._error = PullError(f"pull request refused: {status} {description}".strip())
        self._finish()

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
