"""The checked-in NATS configs are the rendered ones, and nats-server accepts them as deployed."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
from pathlib import Path

import nats.errors
import pytest

from runtime.bus.connection import connect_bus
from runtime.bus.credentials import (
    AUTH_INCLUDE_FILE,
    CREDENTIALS_FILE,
    bcrypt_env_value,
    credentials_for,
    embedded_auth,
    password_env_var,
    production_auth,
)
from runtime.bus.nats_server import (
    EMBEDDED_CONFIG,
    EMBEDDED_SYNC_ALWAYS_CONFIG,
    NatsServer,
    nats_server_binary,
)
from runtime.bus.permissions import breakglass_user, partnership_users
from sendx.commands import deploy
from tests.sendx.deployment.conftest import Certificates, nats_node_environment

NATS_DIR = EMBEDDED_CONFIG.parent


def sendx_deploy(*argv: str) -> int:
    """`sendx deploy ...` without importing every other command group."""
    parser = argparse.ArgumentParser(prog="sendx")
    deploy.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["deploy", *argv])
    return int(args.func(args))


def settings(config: Path) -> list[str]:
    lines = (line.strip() for line in config.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_checked_in_auth_conf_is_rendered_from_the_topology() -> None:
    assert (NATS_DIR / "auth.conf").read_text() == production_auth(), (
        "deploy/nats/auth.conf is stale: run `sendx deploy nats-config --out deploy/nats`"
    )


def test_the_two_embedded_configs_differ_only_in_fsync() -> None:
    embedded, always = settings(EMBEDDED_CONFIG), settings(EMBEDDED_SYNC_ALWAYS_CONFIG)
    assert "sync_interval: 2m" in embedded and "sync_interval: always" in always
    assert [s for s in embedded if "sync_interval" not in s] == [
        s for s in always if "sync_interval" not in s
    ]


def test_every_production_config_sets_sync_always() -> None:
    for config in (NATS_DIR / "production.conf", NATS_DIR / "cluster" / "node.conf"):
        assert "sync_interval: always" in settings(config), config


def test_rendered_cluster_nodes_authenticate_and_encrypt_their_routes(tmp_path: Path) -> None:
    # given the nodes `sendx deploy nats-config --cluster` renders for three hosts
    assert sendx_deploy("nats-config", "--out", str(tmp_path), "--cluster", "n1,n2,n3") == 0
    for config in sorted((tmp_path / "cluster").glob("*.conf")):
        lines = settings(config)
        cluster = lines[lines.index("cluster {"):]
        # then routes need the route user's password and use TLS verified against the CA
        assert "password: $SENDX_NATS_ROUTE_PASSWORD" in cluster
        assert "ca_file: $SENDX_NATS_TLS_CA" in cluster
        # and no route URL (so no password) is written in the file
        assert "routes: $SENDX_NATS_ROUTES" in cluster
        assert not any("nats-route://" in line for line in lines), config


def test_nats_server_accepts_the_rendered_production_set(
    tmp_path: Path, certificates: Certificates
) -> None:
    # given the set rendered for a single server and a three-node cluster
    out = tmp_path / "nats"
    assert sendx_deploy("nats-config", "--out", str(out), "--cluster", "n1,n2,n3") == 0
    env = nats_node_environment(certificates, ["n1", "n2", "n3"])
    # then nats-server's own config check passes for each, with the documented environment
    for config in [out / "production.conf", *sorted((out / "cluster").glob("*.conf"))]:
        check = subprocess.run(
            [str(nats_server_binary()), "-t", "-c", str(config)],
            env=env, capture_output=True, text=True, timeout=30,
        )
        assert check.returncode == 0, f"{config}: {check.stdout}{check.stderr}"


async def test_a_user_logs_in_against_a_bcrypt_hash_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the production auth.conf and the server's environment holding only bcrypt hashes
    (tmp_path / "auth.conf").write_text(production_auth())
    for user in partnership_users():
        monkeypatch.setenv(password_env_var(user.name), bcrypt_env_value(f"pw-{user.name}", 4))
    server = NatsServer(store_dir=tmp_path / "nats", auth=tmp_path / "auth.conf").start()
    try:
        # when LA 856 connects with its password, it is in; with another, it is not
        nc = await connect_bus(server.url, name="test", user="la-856", password="pw-la-856")
        await nc.close()
        with pytest.raises(nats.errors.Error, match="[Aa]uthorization"):
            await asyncio.wait_for(
                connect_bus(
                    server.url, name="test", user="la-856", password="pw-la-855",
                    allow_reconnect=False,
                ),
                timeout=10,
            )
    finally:
        server.stop()


def test_embedded_credentials_are_private_and_generated_once(tmp_path: Path) -> None:
    embedded_auth(tmp_path)
    first = credentials_for("856", tmp_path)
    embedded_auth(tmp_path)
    assert credentials_for("856", tmp_path) == first and first["user"] == "la-856"
    assert credentials_for("la-856-client", tmp_path)["user"] == "la-856-client"
    for name in (CREDENTIALS_FILE, AUTH_INCLUDE_FILE):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    with pytest.raises(LookupError, match="no NATS user 'nobody'"):
        credentials_for("nobody", tmp_path)


async def test_an_anonymous_client_is_refused_by_the_secured_embedded_server(
    tmp_path: Path,
) -> None:
    server = NatsServer(store_dir=tmp_path / "nats", auth=embedded_auth(tmp_path)).start()
    try:
        with pytest.raises(nats.errors.Error, match="[Aa]uthorization"):
            await asyncio.wait_for(
                connect_bus(server.url, name="anonymous", allow_reconnect=False), timeout=10
            )
    finally:
        server.stop()


async def test_the_break_glass_user_exists_only_where_rendered_in_and_logs_in_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the default production auth.conf and the embedded credentials: no break-glass user
    assert '"breakglass"' not in production_auth()
    embedded_auth(tmp_path / "data")
    with pytest.raises(LookupError, match="no NATS user 'breakglass'"):
        credentials_for("breakglass", tmp_path / "data")
    # when an operator renders it in for an authorised change (`--breakglass`)
    assert sendx_deploy("nats-config", "--out", str(tmp_path / "glass"), "--breakglass") == 0
    (tmp_path / "auth.conf").write_text((tmp_path / "glass" / "auth.conf").read_text())
    for user in [*partnership_users(), breakglass_user()]:
        monkeypatch.setenv(password_env_var(user.name), bcrypt_env_value(f"pw-{user.name}", 4))
    server = NatsServer(store_dir=tmp_path / "nats", auth=tmp_path / "auth.conf").start()
    try:
        # then the server accepts the config and the break-glass login
        nc = await connect_bus(server.url, name="test", user="breakglass", password="pw-breakglass")
        await nc.close()
    finally:
        server.stop()
