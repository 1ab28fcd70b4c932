"""Stopping asyncio work within bounded time, and knowing a subscription is in place.

Why its own module: a service's stop (`services.endpoint.process.OrganisationService.stop`) must end
whatever its parts do — a relay that swallows a cancellation, a command still being decided —
and say what it gave up waiting for; and its start must not claim to be ready before the server
has its subscription. These helpers hold no service state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nats.aio.client import Client

log = logging.getLogger("services.endpoint.process")

CANCEL_AGAIN_AFTER = 0.1
"""Seconds after which a task that has not ended is cancelled again (see `cancel_within`)."""


def awaiting(task: asyncio.Task[Any], depth: int = 3) -> str:
    """Where a task is suspended: its innermost `depth` coroutines, outermost first."""
    frames, coro = [], task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None:
            code = frame.f_code
            frames.append(f"{code.co_qualname} ({Path(code.co_filename).name}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None)
    return " > ".join(frames[-depth:]) or ("finished" if task.done() else "not started")


async def registered(nc: Client) -> None:
    """Return once the server has every subscription (and message) `nc` sent so far: only then
    is a service "started", so that a partner's first command does not find no one.

    Twice: nats-py's `flush()` writes its PING straight to the socket, ahead of commands still
    in its buffer; the first round-trip sees the flusher write the SUB, the second confirms it."""
    await nc.flush()
    await nc.flush()


async def finish_within(
    org: str, what: str | Callable[[], str], step: Awaitable[Any], timeout: float
) -> bool:
    """Await one step of a stop for at most `timeout` seconds; False (and a warning naming what
    it waited on) if it overran or failed. An overrunning step is cancelled but not awaited: it
    may ignore the cancellation, and the stop must end regardless."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    name = what() if callable(what) else what
    if not done:
        where = awaiting(task)
        task.cancel()
        log.warning("%s: stop went on after waiting %.1fs for %s (still in %s)",
                    org, timeout, name, where)
        return False
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s: stopping %s failed: %r", org, name, task.exception())
        return False
    return True


async def cancel_within(task: asyncio.Task[Any], timeout: float) -> bool:
    """Cancel `task` and wait up to `timeout` seconds for it to end, cancelling it again every
    `CANCEL_AGAIN_AFTER` seconds; False if it is still running.

    Once is not enough on Python 3.11: `asyncio.wait_for` drops a cancellation that arrives as
    the future it waits on completes (CPython gh-86296, fixed in 3.12). The relay waits that way
    (its poll, its acknowledgements, and nats-py's requests), so a single `cancel()` of a busy
    relay was lost several times in a hundred and a stop then waited for ever."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(CANCEL_AGAIN_AFTER, remaining))
    if not task.cancelled():
        task.exception()  # retrieved: what ended the relay is `serve_forever`'s to raise
    return True
