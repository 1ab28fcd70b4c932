"""The ICB/NHS trust partner-facing command catalogue (see services/README.md for the columns)."""

from __future__ import annotations

from services.icb.commands import ICB_COMMANDS
from services.ingest import CommandCatalogue

ICB_CATALOGUE = CommandCatalogue(ICB_COMMANDS)
