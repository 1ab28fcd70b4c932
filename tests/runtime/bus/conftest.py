"""Fixtures for the secured bus: rendered per-organisation users, and test certificates for TLS."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nats.aio.client import Client

from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import DEPLOY_DIR, NatsServer
from runtime.bus.streams import ensure_streams


@dataclass
class Principal:
    """A connected user and the asynchronous errors the server sent it (permission violations)."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        """nats-py lowercases the server's `-ERR 'Permissions Violation for ...'`."""
        return [e for e in self.errors if "permissions violation" in e]


Connect = Callable[[str], Awaitable[Principal]]


@dataclass
class SecuredBus:
    server: NatsServer
    data_dir: Path


@pytest.fixture
def secured_bus(tmp_path: Path) -> Iterator[SecuredBus]:
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    try:
        yield SecuredBus(server, data_dir)
    finally:
        server.stop()


@pytest.fixture
async def connect_as(secured_bus: SecuredBus) -> AsyncIterator[Connect]:
    """`await connect_as("856")`: connect as that organisation's service, a role or a user."""
    opened: list[Client] = []

    async def connect(who: str) -> Principal:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await connect_bus(
            secured_bus.server.url,
            name=f"test-{who}",
            error_cb=on_error,
            **credentials_for(who, secured_bus.data_dir),
        )
        opened.append(nc)
        return Principal(nc, errors)

    admin = await connect("admin")
    await ensure_streams(admin.nc.jetstream())
    yield connect
    for nc in opened:
        await nc.close()


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path
    client_cert_file: Path
    client_key_file: Path
    """A process's certificate (CN=la-856) for mutual TLS, signed by the same CA."""


ISSUE = DEPLOY_DIR / "pki" / "issue.sh"


def issue(d: Path, *args: str) -> None:
    """The operator's own tool (deploy/pki/issue.sh), so the tests check the certificates the
    deployment guide has operators make."""
    subprocess.run([str(ISSUE), str(d), *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A throwaway CA, a node certificate for 127.0.0.1/localhost (serverAuth and clientAuth:
    cluster nodes present it on routes too) and a process's client certificate."""
    d = tmp_path / "pki"
    issue(d, "node", "server", "127.0.0.1", "localhost")
    issue(d, "client", "client")
    return Certificates(d / "ca.crt", d / "server.crt", d / "server.key",
                        d / "client.crt", d / "client.key")
