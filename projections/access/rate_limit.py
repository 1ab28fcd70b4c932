"""How many requests a token may send the query API: per-token budgets, moving windows.

The budget (`$SENDX_API_RATE_LIMIT`, the `limits` library's notation, e.g. `20/second;600/minute`)
holds for each recognised token on its own, so one partner's script cannot starve the others;
requests without a recognised token share a budget per client address, so a client guessing
tokens is slowed too. The counts live in the API process's memory (one replica, see
deploy/DEPLOYMENT.md): a restart forgets them, which errs on the side of serving.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from runtime.settings import Settings, settings

RATE_LIMIT_ENV = "SENDX_API_RATE_LIMIT"


class RateLimit:
    """Budgets by key (a token's hash, or a client address); `retry_after` counts a request."""

    def __init__(self, spec: str) -> None:
        self.limits: list[RateLimitItem] = parse_many(spec)
        self.spec = spec
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, key: str) -> int | None:
        """None when `key` may send this request (it is counted); else whole seconds to wait."""
        if all(self._window.test(limit, key) for limit in self.limits):
            for limit in self.limits:
                self._window.hit(limit, key)
            return None
        waits = [self._window.get_window_stats(limit, key).reset_time - time.time()
                 for limit in self.limits if not self._window.test(limit, key)]
        return max(1, math.ceil(max(waits)))


def rate_limit_from(config: Settings | None = None) -> RateLimit:
    """`$SENDX_API_RATE_LIMIT` (checked by `runtime.settings`), per token; the dashboard's own
    in-process reads are not counted (`projections.access.policy`)."""
    return RateLimit((config or settings()).api_rate_limit)
