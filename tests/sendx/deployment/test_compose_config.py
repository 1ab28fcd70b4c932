"""`docker compose config` accepts deploy/compose/compose.yaml with a filled-in `.env`, resolves
the secrets literally, and refuses to run when one is missing, naming it.

Docker Compose v2 itself does the check (no Docker engine needed): `make test` fetches it with
`deploy/local/ensure-compose.sh` and passes its path in $SENDX_COMPOSE. In CI a missing compose
fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runtime.bus.cluster import ROUTES_VAR
from runtime.bus.nats_server import DEPLOY_DIR, REPO_ROOT
from sendx.deployment.compose import required_variables
from sendx.deployment.processes import CA_FILE, NATS_HOSTS, server_secret_variables
from tests.needed import unavailable

COMPOSE_FILE = DEPLOY_DIR / "compose" / "compose.yaml"
ENSURE = DEPLOY_DIR / "local" / "ensure-compose.sh"
# A value compose must not interpolate: single-quoted in .env it is taken literally.
LITERAL = "pa$$word-with-$dollar"


@pytest.fixture(scope="module")
def compose_binary() -> str:
    given = os.environ.get("SENDX_COMPOSE")
    if given:
        return given
    found = subprocess.run([str(ENSURE), "--find"], capture_output=True, text=True, timeout=30)
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    unavailable("Docker Compose v2 not found: run deploy/local/ensure-compose.sh (make test does)")


def env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
    return path


def filled_env() -> dict[str, str]:
    """Every variable env.example lists, filled in as the operator does."""
    return {v: LITERAL if v == "NATS_SECRET_LA_856" else f"test-{v.lower()}"
            for v in required_variables()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A stand-in for deploy/compose/ holding what the operator keeps out of git: secrets/."""
    directory = tmp_path / "deploy" / "compose"
    (directory / "secrets" / "pki").mkdir(parents=True)
    server = {v: f'"test-{v.lower()}"' for v in server_secret_variables()}
    server["SENDX_NATS_PASSWORD_LA_856"] = '"$2b$11$' + "a" * 53 + '"'
    server[ROUTES_VAR] = '["nats-route://sendx-route:pw@nats-1:6222"]'
    env_file(directory / "secrets" / "nats-server.env", server)
    return directory


def as_given(value: str) -> str:
    """`config` prints a resolved `$` as `$$` (so its output is itself a compose file)."""
    return value.replace("$$", "$")


def compose(binary: str, project: Path, env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--project-directory", str(project),
         "--env-file", str(env), "config", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )


def test_compose_config_accepts_the_compose_file_with_every_secret_filled_in(
    compose_binary: str, project: Path, tmp_path: Path
) -> None:
    # given a .env with every variable of env.example filled in
    env = env_file(tmp_path / "test.env", filled_env())
    # when compose checks the file, then it is valid
    checked = compose(compose_binary, project, env, "-q")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_resolves_secrets_literally_and_connects_every_process_over_tls(
    compose_binary: str, project: Path, tmp_path: Path
) -> None:
    # given the filled-in .env and the server's secrets file, as the guide has them written
    env = env_file(tmp_path / "test.env", filled_env())
    # when compose resolves the file
    resolved = compose(compose_binary, project, env, "--format", "json")
    assert resolved.returncode == 0, resolved.stderr
    services: dict[str, Any] = json.loads(resolved.stdout)["services"]
    # then LA 856's service gets its password exactly as written, `$` and all
    la = services["la-856"]["environment"]
    assert as_given(la["SENDX_NATS_PASSWORD"]) == LITERAL
    assert la["SENDX_NATS_USER"] == "la-856" and la["SENDX_NATS_CA"] == CA_FILE
    assert la["NATS_URL"] == ",".join(f"tls://{host}:4222" for host in NATS_HOSTS)
    # and each NATS node gets the bcrypt hashes and route URLs with nats' own quotes intact
    for host in NATS_HOSTS:
        node = services[host]["environment"]
        assert as_given(node["SENDX_NATS_PASSWORD_LA_856"]) == '"$2b$11$' + "a" * 53 + '"'
        assert node[ROUTES_VAR] == '["nats-route://sendx-route:pw@nats-1:6222"]'
        assert node["SENDX_NATS_TLS_CA"] == f'"{CA_FILE}"'
        sources = {Path(v["source"]).name for v in services[host]["volumes"] if v["type"] == "bind"}
        assert {"ca.crt", f"{host}.crt", f"{host}.key"} <= sources


def test_compose_refuses_a_missing_secret_naming_it(
    compose_binary: str, project: Path, tmp_path: Path
) -> None:
    # given a .env that forgot one organisation's NATS password
    values = filled_env()
    del values["NATS_SECRET_ICB_QK1"]
    env = env_file(tmp_path / "test.env", values)
    # when compose checks the file, then it refuses, naming the variable and where to set it
    checked = compose(compose_binary, project, env, "-q")
    assert checked.returncode != 0
    assert "NATS_SECRET_ICB_QK1" in checked.stderr
    assert "set it in deploy/compose/.env" in checked.stderr
