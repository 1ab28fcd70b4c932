"""Progress of long CLI work (import, rebuild, audit verify/replay/chain), on stderr.

On a terminal: a bar with count, rate and time left (rich). Elsewhere (a log file, a pipe, a
scheduled job): one plain line at the start, every `PLAIN_EVERY` seconds and at the end, e.g.
`audit chain: reading the stream 5,000/15,654 events (32%), 1,204 events/s, 9 s left`.
`SENDX_PROGRESS=bar|plain|off` overrides the choice. stdout stays for the command's output.

How work reports: a command wraps its run in `with shown("audit verify"):` (one line); the
code doing the work asks `task(description, total)` for a callback and calls it with how far it
got. Without a `shown` around it (services, tests), `task` returns a callback that does nothing,
so library code reports unconditionally and never prints on its own. The current display is a
context variable: `asyncio.run` and `asyncio.to_thread` carry it into the work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from runtime.settings import settings

PLAIN_EVERY = 10.0
"""Seconds between plain progress lines."""
BAR_EVERY = 0.1
"""Seconds between updates sent to the bar (callers may report every message)."""

Tick = Callable[[int], None]


def _nothing(done: int) -> None:
    return None


def rate_text(done: int, elapsed: float, unit: str) -> str:
    return f"{done / elapsed:,.0f} {unit}/s" if elapsed > 0 and done else f"- {unit}/s"


def left_text(done: int, total: int, elapsed: float) -> str:
    if done <= 0 or elapsed <= 0:
        return "time left unknown"
    seconds = (total - done) * elapsed / done
    return f"{seconds:,.0f} s left" if seconds < 120 else f"{seconds / 60:,.0f} min left"


def plain_line(label: str, description: str, done: int, total: int, elapsed: float,
               unit: str) -> str:
    """One progress line for a log: what, how far, how fast, how long still."""
    share = f" ({100 * done / total:.0f}%)" if total else ""
    return (f"{label}: {description} {done:,}/{total:,} {unit}{share}, "
            f"{rate_text(done, elapsed, unit)}, {left_text(done, total, elapsed)}")


class _RateColumn(ProgressColumn):
    """Items per second in the task's own unit (rich's speed column is for bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")


class Display:
    """Where `task` callbacks report to: a rich bar, plain lines, or nothing."""

    def __init__(self, label: str, mode: str, stream: TextIO, every: float = PLAIN_EVERY):
        self.label, self.mode, self.stream, self.every = label, mode, stream, every
        self._bar: Progress | None = None
        if mode == "bar":
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TaskProgressColumn(), _RateColumn(), TimeRemainingColumn(),
                console=Console(file=stream), transient=False,
            )
            self._bar.start()

    def task(self, description: str, total: int, unit: str = "events") -> Tick:
        if self.mode == "off" or total <= 0:
            return _nothing
        if self._bar is not None:
            return self._bar_task(description, total, unit)
        return self._plain_task(description, total, unit)

    def _bar_task(self, description: str, total: int, unit: str) -> Tick:
        bar = self._bar
        assert bar is not None
        handle = bar.add_task(f"{self.label}: {description}", total=total, unit=unit)
        sent = {"at": 0.0}

        def tick(done: int) -> None:
            now = time.monotonic()
            if done >= total or now - sent["at"] >= BAR_EVERY:
                sent["at"] = now
                bar.update(handle, completed=min(done, total))

        return tick

    def _plain_task(self, description: str, total: int, unit: str) -> Tick:
        started = time.monotonic()
        state = {"printed": started, "done": -1}
        self._print(plain_line(self.label, description, 0, total, 0.0, unit))

        def tick(done: int) -> None:
            now = time.monotonic()
            finished = done >= total and state["done"] < total
            if finished or now - state["printed"] >= self.every:
                state["printed"] = now
                self._print(plain_line(self.label, description, min(done, total), total,
                                       now - started, unit))
            state["done"] = done

        return tick

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


_current: ContextVar[Display | None] = ContextVar("sendx_progress", default=None)


def mode_for(stream: TextIO) -> str:
    """`SENDX_PROGRESS` if set, else a bar on a terminal and plain lines elsewhere."""
    return settings().progress or ("bar" if stream.isatty() else "plain")


@contextmanager
def shown(label: str, stream: TextIO | None = None) -> Iterator[Display]:
    """Show the progress of whatever runs inside, under `label` (the command's name)."""
    stream = stream or sys.stderr
    display = Display(label, mode_for(stream), stream)
    token = _current.set(display)
    try:
        yield display
    finally:
        _current.reset(token)
        display.close()


def task(description: str, total: int, unit: str = "events") -> Tick:
    """A callback taking how many of `total` are done, shown by the enclosing `shown`."""
    display = _current.get()
    return _nothing if display is None else display.task(description, total, unit)
