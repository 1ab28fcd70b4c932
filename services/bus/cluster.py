"""A 3-node JetStream cluster on loopback: three `nats-server` processes, each stopped by its PID.

For fault tests and `sendx nats --cluster`. Every node is rendered from the one template
`deploy/nats/cluster/node.conf` (fsync on every write, its own store directory) and runs as a
`NatsServer`; `start()` returns once every node reports healthy on `/healthz`, which nats-server
answers with 200 only when JetStream is up and a meta leader has been elected.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from services.bus.nats_server import DEPLOY_DIR, NatsServer, NatsServerError, free_port

CLUSTER_TEMPLATE = DEPLOY_DIR / "nats" / "cluster" / "node.conf"


class NodeTemplate(Template):
    """`@{name}` placeholders: nats config already uses `$` for its own variables."""

    delimiter = "@"


@dataclass(frozen=True)
class NodeAddress:
    server_name: str
    host: str
    client_port: int
    cluster_port: int
    http_port: int

    @property
    def route(self) -> str:
        return f"nats-route://{self.host}:{self.cluster_port}"


def render_node(
    node: NodeAddress,
    peers: list[NodeAddress],
    store_dir: str,
    *,
    cluster_name: str = "sendx",
    monitor_host: str = "127.0.0.1",
    includes: tuple[str, ...] = (),
) -> str:
    return NodeTemplate(CLUSTER_TEMPLATE.read_text()).substitute(
        server_name=node.server_name,
        host=node.host,
        client_port=node.client_port,
        cluster_port=node.cluster_port,
        http_port=node.http_port,
        monitor_host=monitor_host,
        cluster_name=cluster_name,
        routes="\n".join(f"    {peer.route}" for peer in peers),
        store_dir=store_dir,
        includes="".join(f'include "{path}"\n' for path in includes),
    )


def healthy(http_port: int, host: str = "127.0.0.1") -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{http_port}/healthz", timeout=1) as answer:
            return answer.status == 200 and json.load(answer).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False


@dataclass
class NatsCluster:
    base_dir: Path
    size: int = 3
    host: str = "127.0.0.1"
    cluster_name: str = "sendx"
    nodes: list[NatsServer] = field(default_factory=list)
    addresses: list[NodeAddress] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        """Every node's client URL: give them all to `connect_bus` so it fails over."""
        return [f"nats://{a.host}:{a.client_port}" for a in self.addresses]

    @property
    def pids(self) -> list[int | None]:
        return [node.pid for node in self.nodes]

    def start(self, timeout: float = 30.0) -> NatsCluster:
        self.addresses = [
            NodeAddress(f"sendx-{i}", self.host, free_port(), free_port(), free_port())
            for i in range(1, self.size + 1)
        ]
        for address in self.addresses:
            node_dir = self.base_dir / address.server_name
            node_dir.mkdir(parents=True, exist_ok=True)
            config = node_dir / "nats-server.conf"
            config.write_text(
                render_node(address, self.addresses, str(node_dir / "store"),
                            cluster_name=self.cluster_name)
            )
            server = NatsServer(
                store_dir=node_dir / "store", port=address.client_port, host=self.host,
                config=config, log_file=node_dir / "nats-server.log", store_dir_in_config=True,
            )
            self.nodes.append(server)
        try:
            for server in self.nodes:
                server.start(timeout)
            self.wait_until_healthy(timeout)
        except NatsServerError:
            self.stop()
            raise
        return self

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        """Until every running node has JetStream up with a meta leader."""
        deadline = time.monotonic() + timeout
        running = [a for a, n in zip(self.addresses, self.nodes, strict=True) if n.pid]
        while not all(healthy(a.http_port, a.host) for a in running):
            if time.monotonic() > deadline:
                raise NatsServerError(f"JetStream cluster not healthy within {timeout}s")
            time.sleep(0.2)

    def node_named(self, server_name: str) -> NatsServer:
        for address, node in zip(self.addresses, self.nodes, strict=True):
            if address.server_name == server_name:
                return node
        raise LookupError(f"no node {server_name!r} in this cluster")

    def kill(self, server_name: str) -> int:
        """SIGKILL one node by its PID, as a crash would; returns the PID killed."""
        node = self.node_named(server_name)
        pid = node.pid
        if pid is None:
            raise LookupError(f"node {server_name!r} is not running")
        node.kill()
        return pid

    def restart(self, server_name: str, timeout: float = 30.0) -> None:
        node = self.node_named(server_name)
        node.start(timeout)
        self.wait_until_healthy(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
