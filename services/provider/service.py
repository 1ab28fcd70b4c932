"""How the generic process runner builds a provider service (school, college or AP)."""

from __future__ import annotations

from contracts.topology import OrgKind
from services.endpoint.process import ServiceDefinition
from services.provider.application import ProviderApplication
from services.provider.ingest import PROVIDER_CATALOGUE
from services.provider.translation import ProviderContract

PROVIDER_SERVICE = ServiceDefinition(
    kind=OrgKind.PROVIDER,
    application=ProviderApplication,
    translator=ProviderContract,
    catalogue=PROVIDER_CATALOGUE,
)
