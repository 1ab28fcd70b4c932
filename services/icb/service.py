"""How the generic process runner builds an ICB/NHS trust service."""

from __future__ import annotations

from contracts.topology import OrgKind
from services.icb.application import IcbApplication
from services.icb.contract import IcbContract
from services.icb.ingest import ICB_CATALOGUE
from services.process import ServiceDefinition

ICB_SERVICE = ServiceDefinition(
    kind=OrgKind.ICB,
    application=IcbApplication,
    translator=IcbContract,
    catalogue=ICB_CATALOGUE,
)
