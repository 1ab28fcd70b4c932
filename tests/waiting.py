"""Waiting in tests: one helper, `eventually`, for every "wait until this holds".

Wait on a positive marker (a stream sequence, an ack floor, a reply, a committed position),
never on a fixed sleep: `eventually` polls the condition and returns its first truthy value, or
fails the test naming what it waited for and what it saw last.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `condition` (plain or async) every `interval` seconds until it returns something
    truthy, and return that. Exceptions of the types in `ignore` count as "not yet" (a bus
    that is still electing a leader); anything else fails at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if loop.time() >= deadline:
            waited_for = what or getattr(condition, "__name__", "the condition")
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {waited_for}; last seen: {last!r}"
            )
        await asyncio.sleep(interval)
