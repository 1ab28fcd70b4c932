"""Each indicator's exact counts from one snapshot (`Monthly.counts` of each indicator module).

These are the unsuppressed counts; only the indicators' queries publish them (suppressed). The
golden tests and the audit tools read them to check the counting rules exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from projections.dataset.indicators import MONTHLY
from projections.dataset.periods import Month
from projections.readmodel.store import Snapshot

TALLIES: dict[str, Callable[[Snapshot, Sequence[Month]], Any]] = {
    spec.indicator.id: spec.counts for spec in MONTHLY
}
"""Indicator id -> its exact counts (health waits and AP also return their values)."""


def exact_counts(
    read_model: Any, indicator: str, month: Month, la: str | None, group: str = ""
) -> dict[str, int]:
    """One LA's exact non-zero counts for one month (None: LA not known), unsuppressed: for the
    golden tests and audits that check the counting rules, never for publication."""
    with read_model.snapshot() as snap:
        tally = TALLIES[indicator](snap, [month])
    if isinstance(tally, tuple):
        tally = tally[0]
    return {k: v for k, v in tally.get((str(month), group), {}).get(la, {}).items() if v}
