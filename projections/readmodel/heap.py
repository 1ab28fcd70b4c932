"""Keeping Python's cyclic garbage collector off what a read-model store remembers.

Why. A store remembers up to 250,000 people (`people.py`): fold states made of dataclasses,
tuples and dates, alive for the life of the process. Python's full (generation 2) collection
walks every tracked object, and it runs again whenever the long-lived heap has grown by a
quarter: measured in a live projector holding the 13,241 people of the partnership's first
100,000 events, one full collection took 164-405 ms and freed nothing (`bench/findings.md`,
"Latency"), and that pause lands on whichever batch is being applied: it was the whole p99 of
publish-to-visible latency. At 250,000 people it would be seconds.

What. A process whose job is to keep read models (a projector, a rebuild) calls `manage()` once:
then automatic collections of the oldest generation stop, and after each committed batch
`settle()` collects the young generations (what the batch
allocated and still holds: cheap, since older objects are no longer in them) and then moves
every surviving object to the permanent generation (`gc.freeze`), which later collections do
not walk. Objects freed by reference counting (nearly all of a projection's garbage: evicted
people, finished batches) are freed as before; only a reference cycle formed among objects
that were already frozen would stay, and the folds build no cycles (states are immutable trees).
Processes that did not call `manage()` (the API, the tests) keep Python's defaults: `settle()`
does nothing there, since freezing is a decision about the whole process.
"""

from __future__ import annotations

import gc

YOUNG = 1
"""Generations 0 and 1: what was allocated since the last `settle`."""
RARELY = 1_000_000
"""Collections of generation 1 before one of generation 2 (Python's default is 10)."""

_managed = False


def manage() -> None:
    """This process keeps read models: no automatic full collections, `settle()` per batch."""
    global _managed
    _managed = True
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, RARELY)
    gc.freeze()


def managed() -> bool:
    return _managed


def settle() -> None:
    """Collect what the last batch left in reference cycles, then freeze the survivors."""
    if _managed:
        gc.collect(YOUNG)
        gc.freeze()
