"""How the generic process runner builds an LA service: application, translator, commands."""

from __future__ import annotations

from contracts.topology import OrgKind
from services.endpoint.process import ServiceDefinition
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.la.translation import LaContract

LA_SERVICE = ServiceDefinition(
    kind=OrgKind.LA,
    application=LaApplication,
    translator=LaContract,
    catalogue=LA_CATALOGUE,
)
