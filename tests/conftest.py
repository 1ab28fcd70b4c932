"""Fixtures shared by the whole suite: a real nats-server per test, stopped by PID."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import ensure_streams
from tests.needed import unavailable


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream server on a free loopback port with its own data directory."""
    server = NatsServer(store_dir=tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        try:
            await client.drain()
        except nats.errors.ConnectionReconnectingError:  # a test restarted the server
            await client.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    """JetStream with the project's streams already created."""
    context = nc.jetstream()
    await ensure_streams(context)
    return context


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the PostgreSQL that `make test` starts (deploy/local/ensure-postgres.sh).

    Outside CI a missing server skips with the reason; in CI (CI=true) it is a failure, so a
    broken PostgreSQL set-up can never pass unnoticed.
    """
    import os

    dsn = os.environ.get("SENDX_TEST_POSTGRES_DSN")
    if not dsn:
        unavailable("SENDX_TEST_POSTGRES_DSN is not set: run `make test`, which starts PostgreSQL")
    return dsn


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards, so runs never see each other's rows."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
