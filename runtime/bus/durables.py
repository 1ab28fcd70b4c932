"""The names of the projector's durable consumers, written once for both sides of the bus.

The projector may delete its own durables and no one else's (`permissions.role_user`), so the
permissions need the names before any read model is imported: `projections` sits above
`runtime`. The read models' own catalogue is checked against `READ_MODELS` by a test
(tests/runtime/bus/test_durables.py), so adding a read model without naming it here fails.
"""

from __future__ import annotations

READ_MODELS: tuple[str, ...] = ("dataset", "tracker")
"""Every read model the projector runs (`projections.catalogue.CATALOGUE`, by name)."""


def projection_durable(read_model: str) -> str:
    """The durable consumer of a read model on the whole history."""
    return f"projection-{read_model}"


def partition_name(index: int, count: int) -> str:
    """A partition's name: the key of its position in the store and its consumers' suffix."""
    return f"p{index}-of-{count}"


def partition_durable(read_model: str, index: int, count: int) -> str:
    """The durable consumer of one partition worker on its mirror of the history."""
    return f"{projection_durable(read_model)}-{partition_name(index, count)}"
