"""An ICB (QK1) application on a real SQLite file, and its ingest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.endpoint.ingest import Ingest
from services.icb.application import IcbApplication
from services.icb.ingest import ICB_CATALOGUE


@pytest.fixture
def icb_app(settings: Settings) -> Iterator[IcbApplication]:
    org = organisation("QK1")
    app = IcbApplication(org, store_env(org, settings))
    try:
        yield app
    finally:
        app.factory.close()


@pytest.fixture
def icb(icb_app: IcbApplication) -> Ingest:
    return Ingest(icb_app, ICB_CATALOGUE)
