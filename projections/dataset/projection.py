"""The shared dataset as a `Projection` the runner and `rebuild` can drive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from projections.dataset.store import DEFAULT_SCHEMA, DatasetStore


@dataclass(frozen=True)
class DatasetProjection:
    name: str = "dataset"

    def open_store(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> DatasetStore:
        return DatasetStore(location, schema=schema)


DATASET = DatasetProjection()
