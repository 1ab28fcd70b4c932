"""`deploy/pki/issue.sh`: the certificates the guide has operators make are the ones NATS needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from runtime.bus.nats_server import DEPLOY_DIR

ISSUE = DEPLOY_DIR / "pki" / "issue.sh"


def issue(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ISSUE), str(d), *args], capture_output=True, text=True, timeout=60)


def extensions(cert: Path) -> str:
    return subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-ext",
         "subjectAltName,extendedKeyUsage,basicConstraints"],
        capture_output=True, text=True, check=True,
    ).stdout


def test_a_node_certificate_names_its_hosts_and_serves_and_dials_routes(tmp_path: Path) -> None:
    # when the operator issues the first node's certificate (Kubernetes: several names)
    issued = issue(tmp_path, "node", "nats", "nats-0.nats-headless", "*.nats-headless", "10.0.0.7")
    assert issued.returncode == 0, issued.stderr
    # then the CA was made on first use, and the certificate chains to it
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "nats.crt")],
        capture_output=True, text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # and it names each host as clients dial it, and may both serve and dial (routes)
    ext = extensions(tmp_path / "nats.crt")
    assert "DNS:nats-0.nats-headless" in ext and "DNS:*.nats-headless" in ext
    assert "IP Address:10.0.0.7" in ext
    assert "TLS Web Server Authentication" in ext and "TLS Web Client Authentication" in ext
    assert (tmp_path / "nats.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ca.crt").stat().st_mode & 0o777 == 0o644


def test_a_client_certificate_may_only_dial(tmp_path: Path) -> None:
    assert issue(tmp_path, "client", "la-856").returncode == 0
    ext = extensions(tmp_path / "la-856.crt")
    assert "TLS Web Client Authentication" in ext and "Server Authentication" not in ext


def test_it_never_overwrites_a_certificate_nor_signs_without_the_ca_key(tmp_path: Path) -> None:
    assert issue(tmp_path, "node", "nats-1").returncode == 0
    first = (tmp_path / "nats-1.crt").read_bytes()
    again = issue(tmp_path, "node", "nats-1")
    assert again.returncode == 1 and "exists: delete it to re-issue" in again.stderr
    assert (tmp_path / "nats-1.crt").read_bytes() == first
    # given the CA key moved offline, as the guide says
    (tmp_path / "ca.key").rename(tmp_path / "ca.key.offline")
    refused = issue(tmp_path, "node", "nats-2")
    assert refused.returncode == 1 and "ca.key is missing" in refused.stderr
    assert not (tmp_path / "nats-2.crt").exists()
