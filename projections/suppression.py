"""Suppression of small numbers in every published aggregate: the one rule, in one place. Pure.

The rule (also written into every indicator's definition, `SUPPRESSION_RULE`):

1. Primary suppression: a count from 1 to 4 is published as "<5", as official statistics do,
   so that nobody can be picked out of a small group. Zero is shown as 0: it describes nobody,
   and hiding it would force secondary suppression onto every LA beside an empty one
   (`SUPPRESS_ZERO` turns that choice round in one place).
2. Secondary suppression: counts are published with the sums they belong to (the partnership is
   the sum of its LAs; issued = exceptions + no request + counted; ...). Whenever one of those
   relations has exactly one hidden member, the hidden count could be worked out by subtraction,
   so the smallest other non-zero part of that relation (else its total) is hidden too and
   published as "c" (confidential: not small, hidden so that a small count cannot be derived).
   A zero is never the one hidden: hiding it adds no doubt, since a reader knows "<5" is 1 to
   4. This repeats until no relation has exactly one hidden member.
3. Anything computed from a hidden count is hidden: a percentage is null when its numerator or
   denominator is hidden; a median or percentile is null when fewer than 5 values make it.

Hidden counts are never rounded or perturbed: every number shown is exact.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

THRESHOLD = 5
SUPPRESS_ZERO = False
SMALL: Literal["<5"] = "<5"
HIDDEN: Literal["c"] = "c"

Cell = int | Literal["<5", "c"]
"""A published count: the number, "<5" (below 5) or "c" (hidden so a small one can't be derived)."""

SUPPRESSION_RULE = (
    'Counts from 1 to 4 are shown as "<5" (0 is shown as 0). Where a hidden count could be '
    "worked out by subtraction from a total (the partnership is the sum of its LAs; parts add "
    "up to their total), the next-smallest non-zero count in that sum is hidden too and shown "
    'as "c". Percentages of a hidden count, and medians or percentiles of fewer than 5 values, '
    "are not shown (null)."
)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Sum:
    """A published relation: `total` = the sum of `parts` (keys of counts)."""

    total: Hashable
    parts: tuple[Hashable, ...]


def suppress(counts: Mapping[K, int], sums: Iterable[Sum] = ()) -> dict[K, Cell]:
    """Publishable cells for `counts`, given the sums published alongside them."""
    hidden: dict[K, Cell] = {key: SMALL for key, value in counts.items() if is_small(value)}
    relations = [s for s in sums if len(s.parts) > 1]
    changed = True
    while changed:
        changed = False
        for relation in relations:
            members = (relation.total, *relation.parts)
            if sum(1 for m in members if m in hidden) != 1:
                continue
            shown_parts = [p for p in relation.parts if p not in hidden and counts[p] > 0]
            candidates = shown_parts or [relation.total]
            smallest = min(candidates, key=lambda key: (counts[key], repr(key)))
            hidden[smallest] = HIDDEN
            changed = True
    return {key: hidden.get(key, value) for key, value in counts.items()}


def is_small(count: int) -> bool:
    return count < THRESHOLD and (count > 0 or SUPPRESS_ZERO)


def is_shown(cell: Cell) -> bool:
    return isinstance(cell, int)


def percentage(numerator: Cell, denominator: Cell) -> float | None:
    """numerator / denominator x 100 to one decimal; None if either is hidden or nothing counted."""
    if not (is_shown(numerator) and is_shown(denominator)) or denominator == 0:
        return None
    return round(100 * numerator / denominator, 1)


def enough_values(values: Sequence[object]) -> bool:
    """A median or percentile of fewer than THRESHOLD values is not published."""
    return len(values) >= THRESHOLD
