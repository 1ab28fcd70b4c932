"""CPU seconds charged to named phases of one process: how a bench shows a miss's floor by phase.

A phase is timed either as a block (`with clock.phase("seal"):`) or as every call of a function
(`clock.timed("decode", f)`, or `clock.wrap(obj, "save")` for a method, wrapped on the instance);
a call timed inside a block counts towards both, and the bench subtracts where it must.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PhaseClock:
    seconds: dict[str, float] = field(default_factory=dict)
    """Phase -> CPU seconds (`time.process_time`) so far."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self._charge(name, started)

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function`, charging its calls to `name`."""
        self.seconds.setdefault(name, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self._charge(name, started)
        return timed

    def wrap(self, owner: object, name: str, phase: str | None = None) -> None:
        """Time every call of `owner.name` (to `phase`, default the method's name)."""
        setattr(owner, name, self.timed(phase or name, getattr(owner, name)))

    def _charge(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - started
