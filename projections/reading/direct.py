"""Reading a range of a stream with batched direct gets: the rebuild's reader.

Why not a consumer. An ordered push consumer is paced by flow control, and on a long stream
(millions of events) the server ran so far ahead of a reader that folds at a few thousand events
a second that nats-py's pending limits overflowed: millions of messages were dropped and
re-fetched ("slow consumer"), with the client holding ~256 MB. A batched direct get
(`$JS.API.DIRECT.GET.<stream>` with `{"seq", "batch", "next_by_subj"}`, nats-server 2.11+)
answers exactly the batch asked for and then an end-of-batch status, so the reader is never sent
more than it asked for; there is no consumer to create, nothing to ack and no flow control to
answer, and it needs only the read permission every role that reads the stream already has
(`runtime.bus.permissions.read_stream`). One batch is requested ahead, so the server sends the
next batch while the stores apply the current one.

The replies carry the event's subject and stream sequence in headers (`Nats-Subject`,
`Nats-Sequence`); `as_stream_message` turns each into a message with the event's subject, which
`projections.reading.batch.stream_seq` reads the sequence of.
"""

from __future__ import annotations

import asyncio

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from projections.reading.pull import unsubscribe_quietly

STREAM_HEADER = "Nats-Stream"
SUBJECT_HEADER = "Nats-Subject"
SEQUENCE_HEADER = "Nats-Sequence"
END_OF_BATCH = "204"
NOT_FOUND = "404"
FOREIGN = "answered by another stream"
"""A mirror answers direct gets sent to the stream it mirrors (nats-server sets `mirror_direct`
on it, and asking for it off had no effect here), in its own words: SEND_EVENTS_P<n> rewrites
subjects.
Its answer is dropped and the batch asked again, which the stream itself answers as often as
not (requests go to a queue group of the stream and its mirrors)."""
RETRY_EMPTY = 0.2
"""Seconds before asking again when a batch came back empty short of the range's end."""
ASKS = 3
"""Times a batch is asked for before the reader gives up on a silent server."""


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
        self._stream = stream
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
        await unsubscribe_quietly(self._sub)
        self._sub = None

    async def next(self, timeout: float) -> list[Msg]:
        """The next batch in stream order; [] once `stop` is passed.

        Raises `nats.errors.TimeoutError` if the batch did not come within `timeout` seconds
        `ASKS` times, and `DirectGetError` if the stream has nothing more although `stop` is not
        reached yet (after asking again for `timeout` seconds)."""
        deadline = asyncio.get_running_loop().time() + timeout
        asked = 1
        while (request := min(self._ended, default=None)) is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._ended[request]), timeout)
            except TimeoutError:
                # Replies are core NATS messages: a batch lost with a connection (the server
                # cuts a reader that falls too far behind; nats-py reconnects) never ends.
                # Reading is idempotent, so the batch is asked again, from the same sequence.
                self._ended.pop(request)
                self._received.pop(request, None)
                if asked >= ASKS:
                    raise nats.errors.TimeoutError from None
                asked += 1
                await self._ask()
                continue
            ended = self._ended.pop(request)
            replies = self._received.pop(request, [])
            if ended.result() == FOREIGN:  # (a refusal raises)
                await self._ask()
                continue
            if replies:
                self._next = int(replies[-1].headers[SEQUENCE_HEADER]) + 1  # type: ignore[index]
                await self._ask()
                return [as_stream_message(self._nc, r) for r in replies]
            # Nothing from `self._next` on: in a cluster a follower replica may answer before it
            # has the newest messages, so ask again until `timeout`; the history has no holes.
            if asyncio.get_running_loop().time() >= deadline:
                raise DirectGetError(
                    f"{self._api} has nothing from sequence {self._next} on, but the range asked "
                    f"for goes to {self._stop}"
                )
            await asyncio.sleep(RETRY_EMPTY)
            await self._ask()
        return []

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
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            if headers.get(STREAM_HEADER) != self._stream:
                ended.set_result(FOREIGN)
                return
            self._received[request].append(msg)
        elif status in (END_OF_BATCH, NOT_FOUND):
            ended.set_result(status)
        else:
            description = (msg.headers or {}).get("Description", "")
            ended.set_exception(DirectGetError(f"direct get refused: {status} {description}"))
