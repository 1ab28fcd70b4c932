"""Reading a range of a stream with batched direct gets: the rebuild's reader.

Why not a consumer. An ordered push consumer is paced by flow control, and on a long stream
(millions of events) the server ran so far ahead of a reader that folds at a few thousand events
a second that nats-py's pending limits overflowed: millions of messages were dropped and
re-fetched ("slow consumer"), with the client holding ~256 MB. A batched direct get
(`$JS.API.DIRECT.GET.<stream>` with `{"seq", "batch", "next_by_subj"}`, nats-server 2.11+)
answers exactly the batch asked for and then an end-of-batch status, so the reader is never sent
more than it asked for; there is no consumer to create, nothing to ack and no flow control to
answer, and it needs only the read permission every role that reads the stream already has
(`services.bus.permissions.read_stream`). One batch is requested ahead, so the server sends the
next batch while the stores apply the current one.

The replies carry the event's subject and stream sequence in headers (`Nats-Subject`,
`Nats-Sequence`); `as_stream_message` turns each into a message with the event's subject, which
`projections.batch.stream_seq` reads the sequence of.
"""

from __future__ import annotations

import asyncio

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

SUBJECT_HEADER = "Nats-Subject"
SEQUENCE_HEADER = "Nats-Sequence"
END_OF_BATCH = "204"
NOT_FOUND = "404"


class DirectGetError(nats.errors.Error):
    """The server refused a direct get (permissions, no such stream, direct gets not allowed)."""


def as_stream_message(nc: Client, reply: Msg) -> Msg:
    """A direct-get reply as the stored message: the event's subject, body and headers."""
    headers = reply.headers or {}
    return Msg(_client=nc, subject=headers[SUBJECT_HEADER], data=reply.data, headers=headers)


class DirectReader:
    """Stream sequences `start..stop` of `stream` on `subjects`, in batches of `batch` messages."""

    def __init__(
        self, nc: Client, stream: str, subjects: str, *, start: int, stop: int, batch: int
    ) -> None:
        self._nc, self._subjects, self._batch = nc, subjects, batch
        self._api = f"$JS.API.DIRECT.GET.{stream}"
        self._next, self._stop = start, stop
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._request = 0
        self._received: dict[int, list[Msg]] = {}
        self._ended: dict[int, asyncio.Future[str]] = {}

    async def open(self) -> DirectReader:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        await self._ask()
        return self

    async def close(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except (nats.errors.Error, ValueError):
                pass
            self._sub = None

    async def next(self, timeout: float) -> list[Msg]:
        """The next batch in stream order; [] once `stop` is passed or the stream has no more.

        Raises `nats.errors.TimeoutError` if the batch did not end within `timeout` seconds."""
        request = min(self._ended, default=None)
        if request is None:
            return []
        try:
            status = await asyncio.wait_for(asyncio.shield(self._ended[request]), timeout)
        except TimeoutError:
            raise nats.errors.TimeoutError from None
        del self._ended[request]
        replies = self._received.pop(request, [])
        msgs = [as_stream_message(self._nc, r) for r in replies]
        if msgs:
            self._next = int(replies[-1].headers[SEQUENCE_HEADER]) + 1  # type: ignore[index]
        if status == END_OF_BATCH and msgs:
            await self._ask()
        return msgs

    async def _ask(self) -> None:
        if self._next > self._stop:
            return
        self._request += 1
        self._received[self._request] = []
        self._ended[self._request] = asyncio.get_running_loop().create_future()
        body = {
            "seq": self._next,
            "batch": min(self._batch, self._stop - self._next + 1),
            "next_by_subj": self._subjects,
        }
        await self._nc.publish(
            self._api, orjson.dumps(body), reply=f"{self._inbox}.{self._request}"
        )

    async def _on_reply(self, msg: Msg) -> None:
        request = int(msg.subject.rsplit(".", 1)[1])
        ended = self._ended.get(request)
        if ended is None or ended.done():
            return
        status = (msg.headers or {}).get("Status")
        if status is None:
            self._received[request].append(msg)
        elif status in (END_OF_BATCH, NOT_FOUND):
            ended.set_result(status)
        else:
            description = (msg.headers or {}).get("Description", "")
            ended.set_exception(DirectGetError(f"direct get refused: {status} {description}"))
