"""Waiting in tests: one helper, `eventually`, for every "wait until this holds".

Wait on a positive marker (a stream sequence, an ack floor, a reply, a committed position),
never on a fixed sleep: `eventually` polls the condition and returns its first truthy value, or
fails the test naming what it waited for and what it saw last.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
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
            raise _timed_out(condition, timeout, what, last)
        await asyncio.sleep(interval)


def eventually_sync(
    condition: Callable[[], T],
    timeout: float = 10.0,
    *,
    what: str | None = None,
    interval: float = 0.05,
) -> T:
    """`eventually` for code outside an event loop (a supervisor's output, a child process)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise _timed_out(condition, timeout, what, value)
        time.sleep(interval)
    return value


def _timed_out(condition: object, timeout: float, what: str | None, last: object) -> AssertionError:
    waited_for = what or getattr(condition, "__name__", "the condition")
    return AssertionError(
        f"timed out after {timeout:g} s waiting for {waited_for}; last seen: {last!r}"
    )


def logged_sync(process: subprocess.Popen, log: Path, text: str, timeout: float = 30.0) -> None:
    """Wait for `text` in a started process's log: the process's own "I serve" marker. Fails at
    once, with the log, if the process exits first."""

    def shown() -> bool:
        output = log.read_text(errors="replace") if log.exists() else ""
        assert process.poll() is None, f"{process.args} exited:\n{output[-3000:]}"
        return text in output

    eventually_sync(shown, timeout, what=f"{text!r} in {log}")
