"""A provider (AP001) application on a real SQLite file, and its ingest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.endpoint.ingest import Ingest
from services.provider.application import ProviderApplication
from services.provider.ingest import PROVIDER_CATALOGUE


@pytest.fixture
def provider_app(settings: Settings) -> Iterator[ProviderApplication]:
    org = organisation("AP001")
    app = ProviderApplication(org, store_env(org, settings))
    try:
        yield app
    finally:
        app.factory.close()


@pytest.fixture
def provider(provider_app: ProviderApplication) -> Ingest:
    return Ingest(provider_app, PROVIDER_CATALOGUE)
