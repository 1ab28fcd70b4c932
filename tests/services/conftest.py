"""Fixtures for the services tests: an LA application on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stories import PARTNERSHIP_KEY

from contracts.topology import Organisation
from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.la.application import LaApplication


@pytest.fixture
def leicester() -> Organisation:
    return organisation("856")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", store="sqlite", partnership_key=PARTNERSHIP_KEY, cipher_key=None
    )


@pytest.fixture
def la_app(leicester: Organisation, settings: Settings) -> Iterator[LaApplication]:
    app = LaApplication(leicester, store_env(leicester, settings))
    try:
        yield app
    finally:
        app.factory.close()
