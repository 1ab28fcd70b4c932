"""The feed tests' fixtures: the secured bus (`tests.runtime.bus.conftest`) and `bus`, a
partnership on it with a feed process to start (`feeds_harness.FeedBus`), stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.projections.feeds.feeds_harness import FeedBus
from tests.runtime.bus.conftest import (  # noqa: F401 - fixtures, used by name
    Connect,
    connect_as,
    secured_bus,
)


@pytest.fixture
async def bus(connect_as: Connect, tmp_path: Path) -> AsyncIterator[FeedBus]:  # noqa: F811
    feeds = FeedBus(connect_as, tmp_path / "feeds.sqlite")
    yield feeds
    await feeds.stop()
