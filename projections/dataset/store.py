"""The shared dataset's store: a per-person read model (`projections.readmodel.store`) holding
the dataset's fact tables, in SQLite (a file path) or PostgreSQL (a DSN, schema `sendx_dataset`
by default). See `readmodel/store.py` for why facts are re-derived per person and how the
stream position commits with them.
"""

from __future__ import annotations

from pathlib import Path

from projections.dataset.tables import DERIVATION
from projections.readmodel.database import open_database
from projections.readmodel.store import PersonHistoryStore

DEFAULT_SCHEMA = "sendx_dataset"


class DatasetStore(PersonHistoryStore):
    def __init__(self, location: Path | str, *, schema: str = DEFAULT_SCHEMA) -> None:
        super().__init__(open_database(location, schema=schema), DERIVATION)

    def person_facts(self) -> dict[str, list]:
        """Every stored fact by table (the name the audit tools use)."""
        return self.facts()


SqliteDatasetStore = DatasetStore
"""The name earlier code used; a path opens SQLite, a DSN PostgreSQL."""
