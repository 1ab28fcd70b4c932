"""How the generic process runner builds an LA service: application, translator, commands."""

from __future__ import annotations

from contracts.topology import OrgKind
from services.la.application import LaApplication
from services.la.contract import LaContract
from services.la.ingest import LA_CATALOGUE
from services.process import ServiceDefinition

LA_SERVICE = ServiceDefinition(
    kind=OrgKind.LA,
    application=LaApplication,
    translator=LaContract,
    catalogue=LA_CATALOGUE,
)
