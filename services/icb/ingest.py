"""The ICB/NHS trust partner-facing command catalogue (see services/README.md for the columns)."""

from __future__ import annotations

from services.endpoint.ingest import CommandCatalogue
from services.icb.commands import ICB_COMMANDS

ICB_CATALOGUE = CommandCatalogue(ICB_COMMANDS)
