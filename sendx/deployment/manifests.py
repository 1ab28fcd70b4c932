"""The Kubernetes deployment (`deploy/k8s/`), rendered from `sendx.deployment.processes`.

`nats-values.yaml` configures the official NATS Helm chart (`nats/nats`): three servers in a
cluster, JetStream on PersistentVolumeClaims with `sync_interval: always`, and our
`deploy/nats/auth.conf` included, its password hashes from the Secret `sendx-nats-server`.
TLS for clients and routes comes from the Secret `sendx-nats-tls` (tls.crt, tls.key, ca.crt),
route authentication from `SENDX_NATS_ROUTE_PASSWORD`/`SENDX_NATS_ROUTES` in `sendx-nats-server`.
`sendx.yaml` holds our processes: a Deployment per organisation service, the projector and the
API (one replica each, `Recreate`: one relay per store and one runner per durable consumer),
connecting over TLS (`tls://`, the CA from the ConfigMap `sendx-nats-ca`),
with probes on `/healthz` and `/readyz`, resource requests, Prometheus scrape annotations, and
references to Secrets the operator creates (`sendx-<process>`, `sendx-partnership`); a Job
creates the streams with three replicas. PostgreSQL is the operator's (a managed service or
an operator-run cluster) at the Service name `postgres`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from contracts.agreements import Agreement
from runtime.bus.cluster import ROUTE_PASSWORD_VAR, ROUTE_USER, ROUTES_VAR
from runtime.bus.nats_server import DEPLOY_DIR
from runtime.bus.permissions import Role
from sendx.deployment.processes import (
    CA_FILE,
    IMAGE,
    Process,
    common_env,
    partnership_processes,
    streams_job,
)

HEADER = (
    "# Rendered by `sendx deploy manifests` from contracts/topology.py: do not edit by hand.\n"
    "# Operator guide: deploy/DEPLOYMENT.md.\n"
)
LABEL = "app.kubernetes.io/name"
NATS_RELEASE = "nats"
NATS_HOSTS = tuple(f"{NATS_RELEASE}-{i}.{NATS_RELEASE}-headless" for i in range(3))
NATS_URL = ",".join(f"tls://{host}:4222" for host in NATS_HOSTS)
NATS_TLS_SECRET = "sendx-nats-tls"
"""kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (cert-manager writes this shape)."""
NATS_CA_CONFIGMAP = "sendx-nats-ca"
"""The partnership CA's certificate (public), mounted into every sendx pod."""
NATS_CERT_DIRS = {"nats": "/etc/nats-certs/nats", "cluster": "/etc/nats-certs/cluster"}
RESOURCES = {
    "service": {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"memory": "512Mi"}},
    "projector": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    "api": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
}


CA_PATH = PurePosixPath(CA_FILE)
"""Mounted so that the file is exactly where `SENDX_NATS_CA` says."""
CA_VOLUME = {
    "name": "nats-ca",
    "configMap": {"name": NATS_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": CA_PATH.name}]},
}


def _secret(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


def _env(process: Process) -> list[dict[str, Any]]:
    own = f"sendx-{process.secret_owner}"
    plain = {**common_env(), "NATS_URL": NATS_URL, "SENDX_NATS_USER": process.nats_user,
             **process.env}
    if process.database:
        plain |= {"POSTGRES_DBNAME": process.database, "POSTGRES_USER": process.role}
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in plain.items()]
    env.append({"name": "SENDX_NATS_PASSWORD", "valueFrom": _secret(own, "nats-password")})
    if process.courier:
        env.append({"name": "SENDX_COURIER_NATS_USER", "value": Role.COURIER.value})
        env.append({"name": "SENDX_COURIER_NATS_PASSWORD",
                    "valueFrom": _secret(own, "courier-nats-password")})
    if process.database:
        env.append({"name": "POSTGRES_PASSWORD", "valueFrom": _secret(own, "postgres-password")})
        env.append({
            "name": "SENDX_PARTNERSHIP_KEY", "valueFrom": _secret("sendx-partnership", "key"),
        })
    if process.cipher:
        env.append({"name": "SENDX_CIPHER_KEY", "valueFrom": _secret(own, "cipher-key")})
    return env


def _container(process: Process, *, probes: bool = True) -> dict[str, Any]:
    kind = "service" if process.cipher else process.secret_owner
    container: dict[str, Any] = {
        "name": "sendx",
        "image": IMAGE,
        "args": list(process.args),
        "env": _env(process),
        "resources": RESOURCES.get(kind, RESOURCES["service"]),
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
        "volumeMounts": [
            {"name": "nats-ca", "mountPath": str(CA_PATH.parent), "readOnly": True}
        ],
    }
    if probes:
        container["ports"] = [{"name": "http", "containerPort": process.port}]
        if process.metrics_port != process.port:
            container["ports"].append({"name": "metrics", "containerPort": process.metrics_port})
        container["livenessProbe"] = {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 6,
        }
        container["readinessProbe"] = {
            "httpGet": {"path": "/readyz", "port": "http"},
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3,
        }
    return container


def deployment(process: Process) -> dict[str, Any]:
    labels = {LABEL: "send-exchange", "app.kubernetes.io/component": process.name}
    pod: dict[str, Any] = {
        # The image's `sendx` user; fsGroup lets it write the API's volume.
        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
        "containers": [_container(process)],
        "volumes": [CA_VOLUME],
    }
    if process.name == "api":
        pod["containers"][0]["volumeMounts"] += [
            {"name": "data", "mountPath": "/var/lib/sendx"},
            {"name": "tokens", "mountPath": "/var/lib/sendx/access/tokens.toml",
             "subPath": "tokens.toml", "readOnly": True},
        ]
        pod["volumes"] += [
            {"name": "data", "persistentVolumeClaim": {"claimName": "sendx-api-data"}},
            {"name": "tokens", "secret": {"secretName": "sendx-api-tokens"}},
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"sendx-{process.name}", "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(process.metrics_port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod,
            },
        },
    }


def service(process: Process) -> dict[str, Any]:
    selector = {LABEL: "send-exchange", "app.kubernetes.io/component": process.name}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"sendx-{process.name}", "labels": selector},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": process.port,
                                                  "targetPort": "http"}]},
    }


def streams(process: Process) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "sendx-streams"},
        "spec": {"backoffLimit": 10, "template": {"spec": {
            "restartPolicy": "OnFailure",
            "containers": [_container(process, probes=False)],
            "volumes": [CA_VOLUME],
        }}},
    }


def api_data_claim() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "sendx-api-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
    }


def sendx_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [streams(streams_job()), api_data_claim()]
    for process in partnership_processes():
        documents += [deployment(process), service(process)]
    return documents


def nats_values(auth_conf: str) -> dict[str, Any]:
    """Values for `helm install nats nats/nats -f deploy/k8s/nats-values.yaml`; `auth_conf` is
    the rendered `auth.conf` (`production_auth`)."""
    def tls(kind: str, **merge: str) -> dict[str, Any]:
        return {"enabled": True, "secretName": NATS_TLS_SECRET, "dir": NATS_CERT_DIRS[kind],
                "cert": "tls.crt", "key": "tls.key", **({"merge": merge} if merge else {})}

    return {
        "fullnameOverride": NATS_RELEASE,
        "config": {
            # Routes: mutual TLS against the partnership CA, and the route user's password from
            # the Secret sendx-nats-server (bcrypt hash; the URLs with the plain password, as
            # `python -m runtime.bus.cluster` prints them for the pods' headless names).
            "cluster": {
                "enabled": True, "replicas": 3,
                "tls": tls("cluster", ca_file=f"{NATS_CERT_DIRS['cluster']}/ca.crt"),
                "merge": {
                    "authorization": {
                        "user": ROUTE_USER, "password": f"<< ${ROUTE_PASSWORD_VAR} >>",
                        "timeout": 2,
                    },
                    "routes": f"<< ${ROUTES_VAR} >>",
                },
            },
            # Clients: TLS only, handshake first (as deploy/nats/tls.conf); they verify the
            # servers against the same CA.
            "nats": {"tls": tls("nats", handshake_first="300ms")},
            "jetstream": {
                "enabled": True,
                "fileStore": {"enabled": True, "dir": "/data",
                              "pvc": {"enabled": True, "size": "20Gi"}},
                "merge": {"sync_interval": "always", "max_file_store": "<< 20GB >>"},
            },
            "merge": {"00$include": "auth.conf", "max_payload": "<< 1MB >>"},
        },
        "configMap": {"merge": {"data": {"auth.conf": auth_conf}}},
        "container": {
            "merge": {
                "envFrom": [{"secretRef": {"name": "sendx-nats-server"}}],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                              "limits": {"memory": "2Gi"}},
            },
        },
        "natsBox": {"enabled": True},
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no `&id001` anchors where two processes share a value."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _sequence(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    """Short lists of scalars (commands, probes) on one line; everything else as blocks."""
    flow = len(data) <= 8 and all(isinstance(i, str | int | float | bool) for i in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _sequence)


def to_yaml(*documents: dict[str, Any]) -> str:
    return "---\n".join(
        yaml.dump(
            d, Dumper=_Dumper, sort_keys=False, width=1000, default_flow_style=False,
            allow_unicode=True,
        )
        for d in documents
    )


def deploy_files(agreement: Agreement | None = None) -> dict[str, str]:
    """Every rendered file under deploy/, by path relative to deploy/; NATS permissions from
    `agreement` (None: the demo one, `deploy/sharing/agreements.toml`)."""
    from runtime.bus.credentials import production_auth
    from sendx.deployment.compose import (
        HEADER as COMPOSE_HEADER,
    )
    from sendx.deployment.compose import (
        compose_file,
        compose_nats_node,
        env_example,
        init_databases_script,
    )

    auth = production_auth(agreement=agreement)
    files = {
        "compose/compose.yaml": COMPOSE_HEADER + to_yaml(compose_file()),
        "compose/env.example": env_example(),
        "compose/nats/auth.conf": auth,
        "compose/nats/tls.conf": (DEPLOY_DIR / "nats" / "tls.conf").read_text(),
        "compose/postgres/init-databases.sh": init_databases_script(),
        "k8s/nats-values.yaml": HEADER + to_yaml(nats_values(auth)),
        "k8s/sendx.yaml": HEADER + to_yaml(*sendx_documents()),
    }
    for index in (1, 2, 3):
        files[f"compose/nats/cluster/sendx-{index}.conf"] = compose_nats_node(index)
    return files


def write_deploy_files(
    root: Path = DEPLOY_DIR, agreement: Agreement | None = None
) -> list[Path]:
    written = []
    for relative, text in deploy_files(agreement).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if path.suffix == ".sh":
            path.chmod(0o755)
        written.append(path)
    return written
