"""The provider's partner-facing command catalogue (see services/README.md for the columns)."""

from __future__ import annotations

from services.endpoint.ingest import CommandCatalogue
from services.provider.commands import PROVIDER_COMMANDS

PROVIDER_CATALOGUE = CommandCatalogue(PROVIDER_COMMANDS)
