"""JetStream publishes acknowledged through one inbox subscription, many in flight at once.

Why not nats-py's `publish_async`: it draws each message's reply token with `os.urandom`, a
system call that releases the GIL. In a process where another thread is busy (the feed
process: the runner decodes and folds in a thread while the publisher sends on the event loop),
each release hands the GIL to that thread, and the event loop waits up to the switch interval
(5 ms) to get it back, for every message. Under the wide benchmark agreement that was the
largest single item of the publisher's time (`bench/findings.md`, "Feeds"). Here the token is a
counter under one inbox made once; the acknowledgement and its errors are read as
`publish_async` reads them.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.errors import APIError, NoStreamResponseError

NO_RESPONDERS = "503"
"""The status the server answers with when no stream takes the subject."""


class PubAcks:
    """`await publish(...)` returns a future of the stream's `PubAck`; `close()` when done."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._inbox = ""
        self._sub: Subscription | None = None
        self._futures: dict[str, asyncio.Future[api.PubAck]] = {}
        self._count = 0

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> asyncio.Future[api.PubAck]:
        """Send one message; the future completes with its ack (or the stream's error)."""
        if self._sub is None:
            self._inbox = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._acked)
        self._count += 1
        token = str(self._count)
        future: asyncio.Future[api.PubAck] = asyncio.get_running_loop().create_future()
        self._futures[token] = future
        future.add_done_callback(lambda _: self._futures.pop(token, None))  # also if cancelled
        await self._nc.publish(subject, payload, reply=f"{self._inbox}.{token}", headers=headers)
        return future

    async def _acked(self, msg: Msg) -> None:
        future = self._futures.get(msg.subject.rsplit(".", 1)[-1])
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get(api.Header.STATUS) == NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        response = json.loads(msg.data)
        if "error" not in response:
            future.set_result(api.PubAck.from_response(response))
            return
        try:
            APIError.from_error(response["error"])  # raises the error's own class
        except APIError as error:
            future.set_exception(error)

    async def close(self) -> None:
        """Stop listening for acks; any still awaited are cancelled."""
        for future in list(self._futures.values()):
            future.cancel()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()
