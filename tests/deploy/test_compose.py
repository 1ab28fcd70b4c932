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

from contracts.topology import DEMO_PARTNERSHIP
from services.bus.credentials import production_auth
from services.bus.nats_server import DEPLOY_DIR, nats_server_binary
from services.bus.permissions import service_user
from services.compose import required_variables
from services.deployment import server_password_variables
from services.manifests import deploy_files

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
    assert services["projector"]["environment"]["SENDX_NATS_USER"] == "projector"
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
        assert node.count("nats-route://") == 3


@pytest.mark.integration
def test_nats_server_accepts_the_compose_node_configs() -> None:
    # given the server's environment as the operator sets it: a bcrypt hash per user
    hashed = '"$2b$11$' + "a" * 53 + '"'
    env = {**os.environ, **{v: hashed for v in server_password_variables()}}
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
    assert ("projector",) in args and ("api", "--port", "8000") in args


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
    assert config["cluster"] == {"enabled": True, "replicas": 3}
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
