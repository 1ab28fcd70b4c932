"""The LA's partner-facing command catalogue (see services/README.md for the columns)."""

from __future__ import annotations

from services.endpoint.ingest import CommandCatalogue
from services.la.commands import LA_COMMANDS

LA_CATALOGUE = CommandCatalogue(LA_COMMANDS)
