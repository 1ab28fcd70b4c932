"""Every projection the partnership runs, listed once: the audit tools rebuild and verify each,
and a new read model is audited as soon as it is added here."""

from __future__ import annotations

from projections.dataset.projection import DATASET
from projections.reading.projection import Projection
from projections.tracker.store import TRACKER

CATALOGUE: tuple[Projection, ...] = (DATASET, TRACKER)


def projection_named(name: str) -> Projection:
    for projection in CATALOGUE:
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in CATALOGUE)
    raise LookupError(f"no projection named {name!r} (known: {known})")


def projections_named(name: str) -> tuple[Projection, ...]:
    """`all` for the whole catalogue, otherwise the one projection of that name."""
    return CATALOGUE if name == "all" else (projection_named(name),)
