"""An organisation's event store and relay checkpoint on PostgreSQL (SENDX_STORE=postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from nats.js import JetStreamContext
from stories import PARTNERSHIP_KEY
from test_relay import assert_complete_chain, record_stories, relay, stream

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.la.application import LaApplication

pytestmark = pytest.mark.integration


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    url = urlsplit(dsn)
    return {
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": schema,
    }


@pytest.fixture
def pg_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, store="postgres", partnership_key=PARTNERSHIP_KEY)


def open_la(settings: Settings, dsn: str, schema: str) -> LaApplication:
    org = organisation("856")
    return LaApplication(org, {**store_env(org, settings), **postgres_env(dsn, schema)})


@pytest.fixture
def pg_la(
    pg_settings: Settings, postgres_dsn: str, postgres_schema: str
) -> Iterator[LaApplication]:
    app = open_la(pg_settings, postgres_dsn, postgres_schema)
    try:
        yield app
    finally:
        app.factory.close()


async def test_la_events_stored_in_postgres_are_published_once_across_a_relay_restart(
    pg_la: LaApplication, js: JetStreamContext, pg_settings: Settings,
    postgres_dsn: str, postgres_schema: str,
) -> None:
    # given four children's stories stored in PostgreSQL
    record_stories(pg_la, 4)
    # when one relay publishes a batch and is dropped, and a relay of a reopened app resumes
    await relay(pg_la, js, batch_size=5).publish_batch()
    reopened = open_la(pg_settings, postgres_dsn, postgres_schema)
    try:
        await relay(reopened, js).publish_pending()
        # then every shared event is on the stream exactly once, chained in order
        assert_complete_chain(await stream(js), 16)
        # and the reopened store still holds what was recorded
        assert reopened.recorder.max_notification_id() == pg_la.recorder.max_notification_id()
    finally:
        reopened.factory.close()
