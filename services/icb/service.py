"""How the generic process runner builds an ICB/NHS trust service."""

from __future__ import annotations

from contracts.topology import OrgKind
from services.endpoint.process import ServiceDefinition
from services.icb.application import IcbApplication
from services.icb.ingest import ICB_CATALOGUE
from services.icb.translation import IcbContract

ICB_SERVICE = ServiceDefinition(
    kind=OrgKind.ICB,
    application=IcbApplication,
    translator=IcbContract,
    catalogue=ICB_CATALOGUE,
)
