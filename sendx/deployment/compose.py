"""The Docker Compose deployment (`deploy/compose/`), rendered from `sendx.deployment.processes`.

Three nats-server nodes (official image, `deploy/nats/auth.conf`, `sync_interval: always`,
streams created with three replicas by a one-shot `streams` job), PostgreSQL (official image,
one database and role per organisation and one for the read models, created by the rendered
`postgres/init-databases.sh`), every organisation's service, the projector and the API.

Secrets come from `deploy/compose/.env` (client passwords, database passwords, keys; compose
refuses to start naming any that is missing) and `secrets/nats-server.env` (the bcrypt hashes
nats-server checks against, and the route password and URLs); `secrets/tokens.toml` holds the
API's access tokens. `secrets/pki/` holds the partnership CA's certificate (every process
verifies the NATS nodes against it) and each node's certificate and key (`nats-<n>.crt`,
`nats-<n>.key`: client TLS and mutually authenticated, encrypted routes).
"""

from __future__ import annotations

import re
from typing import Any

from runtime.bus.cluster import render_node
from runtime.bus.permissions import Role
from sendx.deployment.nats import PRODUCTION_STORE_DIR, cluster_nodes
from sendx.deployment.processes import (
    API_PORT,
    CA_FILE,
    IMAGE,
    NATS_HOSTS,
    NATS_IMAGE,
    PKI_DIR,
    POSTGRES_IMAGE,
    Process,
    common_env,
    partnership_processes,
    streams_job,
)

_REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?")
HEADER = (
    "# Rendered by `sendx deploy manifests` from contracts/topology.py: do not edit by hand.\n"
    "# Operator guide: deploy/DEPLOYMENT.md. Secrets: .env and secrets/ beside this file.\n"
)


def required(variable: str) -> str:
    return f"${{{variable}:?set it in deploy/compose/.env}}"


CA_MOUNT = f"./secrets/pki/ca.crt:{CA_FILE}:ro"


def _nats_node(host: str, index: int) -> dict[str, Any]:
    """Each node sees its own key only; the paths reach tls.conf quoted (nats parses env)."""
    return {
        "image": NATS_IMAGE,
        "command": ["-c", f"/etc/sendx/nats/cluster/sendx-{index}.conf"],
        "env_file": ["secrets/nats-server.env"],
        "environment": {
            "SENDX_NATS_TLS_CERT": f'"{PKI_DIR}/server.crt"',
            "SENDX_NATS_TLS_KEY": f'"{PKI_DIR}/server.key"',
            "SENDX_NATS_TLS_CA": f'"{CA_FILE}"',
        },
        "volumes": [
            "./nats:/etc/sendx/nats:ro",
            CA_MOUNT,
            f"./secrets/pki/{host}.crt:{PKI_DIR}/server.crt:ro",
            f"./secrets/pki/{host}.key:{PKI_DIR}/server.key:ro",
            f"{host}-data:{PRODUCTION_STORE_DIR}",
        ],
        "healthcheck": {
            "test": ["CMD", "wget", "-qO-", "http://127.0.0.1:8222/healthz?js-enabled-only=true"],
            "interval": "10s", "timeout": "5s", "retries": 6,
        },
        "restart": "unless-stopped",
    }


def _process(process: Process, *, one_shot: bool = False) -> dict[str, Any]:
    env = {
        **common_env(),
        "SENDX_NATS_USER": process.nats_user,
        "SENDX_NATS_PASSWORD": required(process.secret_variable("NATS_SECRET")),
        **process.env,
    }
    if process.courier:
        env |= {
            "SENDX_COURIER_NATS_USER": Role.COURIER.value,
            "SENDX_COURIER_NATS_PASSWORD": required(process.secret_variable("COURIER_SECRET")),
        }
    depends: dict[str, Any] = {h: {"condition": "service_healthy"} for h in NATS_HOSTS}
    if process.database:
        env |= {
            "POSTGRES_DBNAME": process.database,
            "POSTGRES_USER": process.role,
            "POSTGRES_PASSWORD": required(f"PG_PASSWORD_{process.role.upper()}"),
            "SENDX_PARTNERSHIP_KEY": required("SENDX_PARTNERSHIP_KEY"),
        }
        depends |= {
            "postgres": {"condition": "service_healthy"},
            "streams": {"condition": "service_completed_successfully"},
        }
    if process.cipher:
        env["SENDX_CIPHER_KEY"] = required(process.secret_variable("CIPHER_KEY"))
    service: dict[str, Any] = {
        "image": IMAGE,
        "build": {"context": "../..", "dockerfile": "deploy/Dockerfile"},
        "command": list(process.args),
        "environment": env,
        "depends_on": depends,
        "volumes": [CA_MOUNT],
        "restart": "no" if one_shot else "unless-stopped",
    }
    if not one_shot:
        url = f"http://127.0.0.1:{process.port}/readyz"
        probe = f"import urllib.request as u; u.urlopen('{url}', timeout=3)"
        service["healthcheck"] = {
            "test": ["CMD", "python", "-c", probe], "interval": "15s", "timeout": "5s",
            "retries": 4, "start_period": "30s",
        }
    return service


def _postgres(processes: list[Process]) -> dict[str, Any]:
    roles = sorted({p.role for p in processes if p.role})
    return {
        "image": POSTGRES_IMAGE,
        "environment": {
            "POSTGRES_PASSWORD": required("POSTGRES_PASSWORD"),
            **{f"PG_PASSWORD_{r.upper()}": required(f"PG_PASSWORD_{r.upper()}") for r in roles},
        },
        "volumes": [
            "./postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-sendx.sh:ro",
            "postgres-data:/var/lib/postgresql/data",
        ],
        "healthcheck": {
            "test": ["CMD-SHELL", "pg_isready -U postgres"], "interval": "10s", "timeout": "5s",
            "retries": 6,
        },
        "restart": "unless-stopped",
    }


def compose_file() -> dict[str, Any]:
    processes = partnership_processes()
    services: dict[str, Any] = {
        host: _nats_node(host, i) for i, host in enumerate(NATS_HOSTS, start=1)
    }
    services["postgres"] = _postgres(processes)
    services["streams"] = _process(streams_job(), one_shot=True)
    for process in processes:
        services[process.name] = _process(process)
    api = services["api"]
    api["ports"] = [f"127.0.0.1:{API_PORT}:{API_PORT}"]
    api["volumes"] = [
        CA_MOUNT,
        "api-data:/var/lib/sendx",
        "./secrets/tokens.toml:/var/lib/sendx/access/tokens.toml:ro",
    ]
    volumes = {f"{h}-data": {} for h in NATS_HOSTS} | {"postgres-data": {}, "api-data": {}}
    return {"name": "sendx", "services": services, "volumes": volumes}


def init_databases_script() -> str:
    """postgres' first-start script: a role and a database per organisation and for read
    models; nobody else may connect to them. Passwords come from the container environment."""
    lines = [
        "#!/bin/sh",
        "# Rendered by `sendx deploy manifests` from contracts/topology.py: do not edit by hand.",
        "# Runs once, on an empty data directory (postgres' /docker-entrypoint-initdb.d).",
        "set -eu",
    ]
    seen: set[str] = set()
    for process in partnership_processes():
        if process.role in seen or not process.database:
            continue
        seen.add(process.role)
        variable = f"PG_PASSWORD_{process.role.upper()}"
        lines += [
            f'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="${variable}" <<\'SQL\'',
            f"CREATE ROLE {process.role} LOGIN PASSWORD :'pw';",
            f"CREATE DATABASE {process.database} OWNER {process.role};",
            f"REVOKE ALL ON DATABASE {process.database} FROM PUBLIC;",
            "SQL",
        ]
    return "\n".join(lines) + "\n"


def compose_nats_node(index: int) -> str:
    """`nats/cluster/sendx-<n>.conf` for compose: auth.conf and tls.conf for clients,
    password-authenticated mutual-TLS routes (the network between containers is not trusted)."""
    nodes = cluster_nodes(list(NATS_HOSTS))
    return render_node(
        nodes[index - 1], nodes, PRODUCTION_STORE_DIR, includes=("../auth.conf", "../tls.conf")
    )


def required_variables() -> list[str]:
    """Every `${VAR:?...}` the compose file needs from `.env`, in order of first use."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.extend(v for v in _REQUIRED.findall(value) if v not in found)

    walk(compose_file())
    return found


def env_example() -> str:
    """`deploy/compose/.env`'s shape: copy to `.env`, fill in, keep it out of version control."""
    how = {
        "NATS_SECRET_": "the NATS password of this process's user (`sendx deploy nats-password`)",
        "COURIER_SECRET_": "the `courier` user's NATS password (`sendx deploy nats-password`)",
        "PG_PASSWORD_": "its PostgreSQL role's password (e.g. `openssl rand -base64 32`)",
        "CIPHER_KEY_": "AES key for its store at rest (`sendx deploy cipher-key`)",
        "POSTGRES_PASSWORD": "the PostgreSQL superuser's password",
        "SENDX_PARTNERSHIP_KEY": "the partnership's HMAC key for person keys (same everywhere)",
    }
    lines = [
        "# Rendered by `sendx deploy manifests`: copy to deploy/compose/.env and fill in.",
        "# Values are literal when single-quoted. Never commit the filled-in file.",
    ]
    for variable in required_variables():
        note = next(text for prefix, text in how.items() if variable.startswith(prefix))
        lines += [f"# {note}", f"{variable}=''"]
    return "\n".join(lines) + "\n"
