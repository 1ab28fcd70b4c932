"""How long to wait before the next attempt, and when to stop trying. Pure.

Exponential: the first retry after `first` seconds, each later one after twice the last, at
most `most` seconds apart; after `retry_for` seconds since the first attempt the message is
dead-lettered. With the defaults (1 s, doubling to 10 minutes, for 24 hours) a partner that is
down for a day loses nothing it cannot read back from the dead letters or the replay API.
"""

from __future__ import annotations


def delay(attempt: int, first: float, most: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first try)."""
    return min(first * 2 ** (attempt - 1), most)


def should_retry(elapsed: float, next_delay: float, retry_for: float) -> bool:
    """Whether another attempt, `next_delay` from now, still falls within the retry period."""
    return elapsed + next_delay <= retry_for
