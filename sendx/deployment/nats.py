"""The production NATS configuration rendered from the topology: auth.conf, copies of
production.conf and tls.conf, and one cluster/<node>.conf per host (`sendx deploy nats-config`).

Here rather than in the command module so that the Compose and Kubernetes renderers use the
same cluster nodes without importing the CLI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from contracts.agreements import Agreement
from runtime.bus.cluster import NodeAddress, render_node
from runtime.bus.credentials import production_auth
from runtime.bus.nats_server import DEPLOY_DIR

NATS_DIR = DEPLOY_DIR / "nats"
CLIENT_PORT, CLUSTER_PORT, HTTP_PORT = 4222, 6222, 8222
PRODUCTION_STORE_DIR = "/var/lib/sendx/nats"


def cluster_nodes(hosts: list[str]) -> list[NodeAddress]:
    return [
        NodeAddress(f"sendx-{i}", host, CLIENT_PORT, CLUSTER_PORT, HTTP_PORT)
        for i, host in enumerate(hosts, start=1)
    ]


def write_nats_config(
    out: Path, cluster_hosts: list[str] | None = None, *, breakglass: bool = False,
    agreement: Agreement | None = None,
) -> list[Path]:
    """auth.conf (feed permissions from `agreement`, None: the demo one), the shared configs
    and one node config per cluster host."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "auth.conf").write_text(production_auth(breakglass=breakglass, agreement=agreement))
    written = [out / "auth.conf"]
    for name in ("production.conf", "tls.conf"):
        if (out / name).resolve() != (NATS_DIR / name).resolve():  # `--out deploy/nats`
            shutil.copyfile(NATS_DIR / name, out / name)
        written.append(out / name)
    if cluster_hosts:
        (out / "cluster").mkdir(exist_ok=True)
        nodes = cluster_nodes(cluster_hosts)
        for node in nodes:
            path = out / "cluster" / f"{node.server_name}.conf"
            path.write_text(
                render_node(
                    node, nodes, PRODUCTION_STORE_DIR,
                    includes=("../auth.conf", "../tls.conf"),
                )
            )
            written.append(path)
    return written
