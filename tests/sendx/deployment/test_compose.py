"""The production deployment (deploy/compose, deploy/k8s) is rendered from the topology, valid,
and runs every organisation's service with probes, resources and its own secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from projections.catalogue import CATALOGUE
from runtime.bus.credentials import production_auth
from runtime.bus.nats_server import DEPLOY_DIR, nats_server_binary
from runtime.bus.permissions import service_user
from runtime.partnership import DEMO_PARTNERSHIP
from sendx.deployment.compose import required_variables
from sendx.deployment.manifests import NATS_CA_CONFIGMAP, NATS_TLS_SECRET, deploy_files
from sendx.deployment.processes import CA_FILE, IMAGE, NATS_HOSTS, server_secret_variables
from tests.sendx.deployment.conftest import Certificates, nats_node_environment

COMPOSE = DEPLOY_DIR / "compose" / "compose.yaml"
K8S = DEPLOY_DIR / "k8s"
STALE = "deploy/{} is stale: run `sendx deploy manifests` and commit the result"


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    """The compose-spec JSON schema check (`check-jsonschema`, a dev dependency)."""
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.fail(
            "check-jsonschema is not installed: `pip install -e '.[dev]'` (it validates "
            "deploy/compose/compose.yaml against the compose specification)"
        )
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=120,
    )


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_documents() -> list[dict[str, Any]]:
    return [
        doc for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text()) if doc
    ]


@pytest.mark.parametrize("relative", sorted(deploy_files()))
def test_every_checked_in_deploy_file_is_the_rendered_one(relative: str) -> None:
    assert (DEPLOY_DIR / relative).read_text() == deploy_files()[relative], STALE.format(relative)


def test_the_compose_file_is_valid_by_the_compose_specification(tmp_path: Path) -> None:
    # given the checked-in compose file: it validates
    checked = validate_compose(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # and the validator does catch a mistake (a misspelt key)
    broken = compose()
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    refused = validate_compose(tmp_path / "broken.yaml")
    assert refused.returncode != 0 and "helthcheck" in refused.stdout + refused.stderr


def test_compose_runs_every_organisation_the_projector_and_the_api_on_three_nats_nodes() -> None:
    services = compose()["services"]
    # then each organisation's service runs as its own NATS user, with its own database
    for org in DEMO_PARTNERSHIP:
        name = service_user(org).lower()
        assert services[name]["command"] == ["service", org.kind.value, "--org", org.code]
        env = services[name]["environment"]
        assert env["SENDX_NATS_USER"] == service_user(org)
        assert env["POSTGRES_DBNAME"] == f"sendx_{org.kind.value}_{org.code.lower()}"
        assert "${CIPHER_KEY_" in env["SENDX_CIPHER_KEY"]
        assert "readyz" in " ".join(services[name]["healthcheck"]["test"])
    # and one projector per read model, both the NATS user `projector` with its one password
    for projection in CATALOGUE:
        projector = services[f"projector-{projection.name}"]
        assert projector["command"] == ["projector", "--only", projection.name]
        assert projector["environment"]["SENDX_NATS_USER"] == "projector"
        assert "${NATS_SECRET_PROJECTOR:?" in projector["environment"]["SENDX_NATS_PASSWORD"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]
    # and NATS is three official-image nodes in one cluster, with the streams created at R3
    nodes = [s for s in services.values() if str(s.get("image", "")).startswith("nats:")]
    assert len(nodes) == 3
    assert services["streams"]["command"] == ["deploy", "streams", "--replicas", "3"]
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_nats_nodes_include_the_partnership_users_and_fsync_every_write() -> None:
    auth = (DEPLOY_DIR / "compose" / "nats" / "auth.conf").read_text()
    assert auth == production_auth()
    for index in (1, 2, 3):
        node = (DEPLOY_DIR / "compose" / "nats" / "cluster" / f"sendx-{index}.conf").read_text()
        assert 'include "../auth.conf"' in node and "sync_interval: always" in node
        # clients must use TLS; routes need the route password and use mutual TLS
        assert 'include "../tls.conf"' in node
        assert "password: $SENDX_NATS_ROUTE_PASSWORD" in node
        assert "ca_file: $SENDX_NATS_TLS_CA" in node
        assert "routes: $SENDX_NATS_ROUTES" in node


def test_compose_processes_reach_nats_over_tls_verified_against_the_partnership_ca() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if service.get("image") != IMAGE:
            continue
        env = service["environment"]
        assert all(url.startswith("tls://") for url in env["NATS_URL"].split(",")), name
        assert env["SENDX_NATS_CA"] == CA_FILE, name
        assert f"./secrets/pki/ca.crt:{CA_FILE}:ro" in service["volumes"], name
    # and each NATS node is given its own certificate and key, and no other node's
    for host in NATS_HOSTS:
        mounts = " ".join(services[host]["volumes"])
        assert f"./secrets/pki/{host}.key:" in mounts
        assert all(f"/{other}.key" not in mounts for other in NATS_HOSTS if other != host)


@pytest.mark.integration
def test_nats_server_accepts_the_compose_node_configs(certificates: Certificates) -> None:
    # given the server's environment as the operator sets it: a bcrypt hash per user, the route
    # password and URLs, the certificate paths (here the test CA's)
    env = {**os.environ, **nats_node_environment(certificates, list(NATS_HOSTS))}
    assert set(server_secret_variables()) <= env.keys()
    for index in (1, 2, 3):
        config = DEPLOY_DIR / "compose" / "nats" / "cluster" / f"sendx-{index}.conf"
        # when nats-server checks the config, then it accepts it
        checked = subprocess.run(
            [str(nats_server_binary()), "-t", "-c", str(config)],
            capture_output=True, text=True, env=env, timeout=30,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_secret_compose_needs_is_listed_in_the_env_example() -> None:
    example = (DEPLOY_DIR / "compose" / "env.example").read_text()
    listed = [line.split("=")[0] for line in example.splitlines() if "=" in line and line[0] != "#"]
    assert listed == required_variables()
    assert "SENDX_PARTNERSHIP_KEY" in listed and "POSTGRES_PASSWORD" in listed
    assert all(f"CIPHER_KEY_{service_user(o).upper().replace('-', '_')}" in listed
               for o in DEMO_PARTNERSHIP)


def test_every_k8s_deployment_has_probes_resources_and_scrape_annotations() -> None:
    deployments = [d for d in k8s_documents() if d.get("kind") == "Deployment"]
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]
        name = deployment["metadata"]["name"]
        assert deployment["spec"]["replicas"] == 1, f"{name}: one relay/runner per store"
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true", name
        for container in pod["spec"]["containers"]:
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name


def test_every_organisation_of_the_topology_has_a_k8s_service_deployment() -> None:
    args = {
        tuple(d["spec"]["template"]["spec"]["containers"][0]["args"])
        for d in k8s_documents() if d.get("kind") == "Deployment"
    }
    for org in DEMO_PARTNERSHIP:
        assert ("service", org.kind.value, "--org", org.code) in args, org.code
    assert ("api", "--port", "8000") in args
    for projection in CATALOGUE:
        assert ("projector", "--only", projection.name) in args


def test_every_k8s_process_reaches_nats_over_tls_with_the_ca_mounted() -> None:
    pods = [d["spec"]["template"]["spec"] for d in k8s_documents()
            if d.get("kind") in {"Deployment", "Job"}]
    assert pods
    for pod in pods:
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["nats-ca"]["configMap"]["name"] == NATS_CA_CONFIGMAP
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert all(u.startswith("tls://") for u in env["NATS_URL"].split(","))
            assert env["SENDX_NATS_CA"] == CA_FILE
            mount = next(m for m in container["volumeMounts"] if m["name"] == "nats-ca")
            assert CA_FILE.startswith(mount["mountPath"] + "/") and mount["readOnly"]


def test_the_nats_chart_values_encrypt_clients_and_routes_and_authenticate_routes() -> None:
    config = yaml.safe_load((K8S / "nats-values.yaml").read_text())["config"]
    client_tls = config["nats"]["tls"]
    assert client_tls["enabled"] and client_tls["secretName"] == NATS_TLS_SECRET
    assert client_tls["merge"]["handshake_first"] == "300ms"
    cluster = config["cluster"]
    assert cluster["tls"]["enabled"] and cluster["tls"]["merge"]["ca_file"].endswith("/ca.crt")
    # the route password and URLs come from the server's environment (Secret sendx-nats-server)
    assert cluster["merge"]["authorization"]["password"] == "<< $SENDX_NATS_ROUTE_PASSWORD >>"
    assert cluster["merge"]["routes"] == "<< $SENDX_NATS_ROUTES >>"


def test_k8s_secrets_are_references_never_values() -> None:
    text = (K8S / "sendx.yaml").read_text()
    assert "kind: Secret\n" not in text
    for doc in k8s_documents():
        for container in _containers(doc):
            for env in container.get("env", []):
                if env["name"] in {"SENDX_NATS_PASSWORD", "POSTGRES_PASSWORD", "SENDX_CIPHER_KEY",
                                   "SENDX_PARTNERSHIP_KEY"}:
                    assert "secretKeyRef" in env["valueFrom"], env


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


def test_the_nats_chart_values_run_three_durable_servers_with_our_users() -> None:
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    config = values["config"]
    assert config["cluster"]["enabled"] is True and config["cluster"]["replicas"] == 3
    assert config["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert config["jetstream"]["merge"]["sync_interval"] == "always"
    assert config["merge"]["00$include"] == "auth.conf"
    assert values["configMap"]["merge"]["data"]["auth.conf"] == production_auth()
    assert values["container"]["merge"]["envFrom"] == [{"secretRef": {"name": "sendx-nats-server"}}]


def test_the_image_is_python_311_slim_with_the_postgres_extra() -> None:
    dockerfile = (DEPLOY_DIR / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert 'pip install ".[postgres]"' in dockerfile
    assert "USER 10001" in dockerfile
