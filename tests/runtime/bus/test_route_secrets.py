"""`sendx deploy route-password HOSTS` prints the route secrets each node needs."""

from __future__ import annotations

import re

import bcrypt
import pytest

from runtime.bus.cluster import ROUTE_PASSWORD_VAR, ROUTE_USER, ROUTES_VAR
from sendx.cli import main


def test_the_route_secrets_are_a_hash_and_urls_carrying_the_same_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # when the operator asks for the route secrets of three hosts
    assert main(["deploy", "route-password", "nats-1,nats-2,nats-3"]) == 0
    lines = dict(
        line.split("=", 1) for line in capsys.readouterr().out.splitlines()
        if not line.startswith("#")
    )
    # then both lines are single-quoted around nats' own double quotes, as the env files take them
    hashed = lines[ROUTE_PASSWORD_VAR].removeprefix("'\"").removesuffix("\"'")
    routes = lines[ROUTES_VAR].removeprefix("'").removesuffix("'")
    urls = re.findall(r'"nats-route://([^:]+):([^@]+)@([^:]+):6222"', routes)
    # and every host is dialled as the route user with one password, the one the hash checks
    assert [(user, host) for user, _, host in urls] == [
        (ROUTE_USER, "nats-1"), (ROUTE_USER, "nats-2"), (ROUTE_USER, "nats-3")
    ]
    passwords = {password for _, password, _ in urls}
    assert len(passwords) == 1
    assert bcrypt.checkpw(passwords.pop().encode(), hashed.encode())


def test_fewer_than_three_hosts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "route-password", "nats-1,nats-2"]) == 2
    error = capsys.readouterr().err
    assert "sendx deploy: error: route-password needs at least three hosts" in error
    assert "got 2: 'nats-1,nats-2'" in error
