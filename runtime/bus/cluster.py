"""A 3-node JetStream cluster on loopback: three `nats-server` processes, each stopped by its PID.

For fault tests and `sendx nats --cluster`. Every node is rendered from the one template
`deploy/nats/cluster/node.conf` (fsync on every write, its own store directory) and runs as a
`NatsServer`; `start()` returns once every node reports healthy on `/healthz`, which nats-server
answers with 200 only when JetStream is up and a meta leader has been elected.

Routes between nodes are authenticated everywhere, here too: a node joins only with the route
user's password (`route_env`, in each nats-server's environment), and with `tls=` routes and
clients use TLS, as in production (`deploy/nats/cluster/route-tls.conf`).

    python -m runtime.bus.cluster nats-1,nats-2,nats-3

prints a new route password as the two variables every node's environment needs.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from runtime.bus.credentials import bcrypt_env_value, new_password
from runtime.bus.nats_server import DEPLOY_DIR, NatsServer, NatsServerError, ServerTls, free_port

CLUSTER_TEMPLATE = DEPLOY_DIR / "nats" / "cluster" / "node.conf"
ROUTE_TLS = DEPLOY_DIR / "nats" / "cluster" / "route-tls.conf"
ROUTE_USER = "sendx-route"
ROUTE_PASSWORD_VAR, ROUTES_VAR = "SENDX_NATS_ROUTE_PASSWORD", "SENDX_NATS_ROUTES"
LOCAL_BCRYPT_COST = 6
"""Loopback clusters only: every route handshake checks the hash, and tests start many."""


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

    def route(self, password: str | None = None) -> str:
        """The URL other nodes dial; with `password`, as the route user (URL-safe passwords)."""
        credentials = f"{ROUTE_USER}:{password}@" if password is not None else ""
        return f"nats-route://{credentials}{self.host}:{self.cluster_port}"


def route_urls(peers: list[NodeAddress], password: str) -> str:
    """`SENDX_NATS_ROUTES`: every node's route URL with the password, as a nats config list."""
    return "[" + ", ".join(f'"{peer.route(password)}"' for peer in peers) + "]"


def route_env(
    peers: list[NodeAddress], password: str, *, cost: int | None = None
) -> dict[str, str]:
    """What every node's nats-server needs in its environment for authenticated routes: the
    bcrypt hash it checks incoming routes against and the URLs (plain password) it dials."""
    hashed = bcrypt_env_value(password) if cost is None else bcrypt_env_value(password, cost)
    return {ROUTE_PASSWORD_VAR: hashed, ROUTES_VAR: route_urls(peers, password)}


def _indented(text: str, by: str = "  ") -> str:
    return "".join(f"{by}{line}\n" if line else "\n" for line in text.splitlines())


def render_node(
    node: NodeAddress,
    peers: list[NodeAddress],
    store_dir: str,
    *,
    cluster_name: str = "sendx",
    monitor_host: str = "127.0.0.1",
    includes: tuple[str, ...] = (),
    route_tls: bool = True,
) -> str:
    """One node's config. Routes always need the route password; `route_tls` (every real
    deployment) also encrypts them, inlining `route-tls.conf` so no include path can dangle."""
    return NodeTemplate(CLUSTER_TEMPLATE.read_text()).substitute(
        server_name=node.server_name,
        host=node.host,
        client_port=node.client_port,
        cluster_port=node.cluster_port,
        http_port=node.http_port,
        monitor_host=monitor_host,
        cluster_name=cluster_name,
        route_user=ROUTE_USER,
        route_tls=_indented(ROUTE_TLS.read_text()) if route_tls else "",
        route_example=", ".join(f'"{peer.route("PASSWORD")}"' for peer in peers),
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
    tls: ServerTls | None = None
    """With a certificate (and `ca_file`): TLS on the client port and mutual TLS on routes."""
    route_password: str = field(default_factory=new_password, repr=False)

    def __post_init__(self) -> None:
        if self.tls is not None and self.tls.ca_file is None:
            raise ValueError("a TLS cluster needs ServerTls(ca_file=...): nodes verify each other")

    @property
    def urls(self) -> list[str]:
        """Every node's client URL: give them all to `connect_bus` so it fails over."""
        scheme = "tls" if self.tls else "nats"
        return [f"{scheme}://{a.host}:{a.client_port}" for a in self.addresses]

    @property
    def pids(self) -> list[int | None]:
        return [node.pid for node in self.nodes]

    def start(self, timeout: float = 30.0) -> NatsCluster:
        self.addresses = [
            NodeAddress(f"sendx-{i}", self.host, free_port(), free_port(), free_port())
            for i in range(1, self.size + 1)
        ]
        routes = route_env(self.addresses, self.route_password, cost=LOCAL_BCRYPT_COST)
        for address in self.addresses:
            node_dir = self.base_dir / address.server_name
            node_dir.mkdir(parents=True, exist_ok=True)
            config = node_dir / "nats-server.conf"
            config.write_text(
                render_node(address, self.addresses, str(node_dir / "store"),
                            cluster_name=self.cluster_name, route_tls=self.tls is not None)
            )
            server = NatsServer(
                store_dir=node_dir / "store", port=address.client_port, host=self.host,
                config=config, log_file=node_dir / "nats-server.log", store_dir_in_config=True,
                tls=self.tls, env=routes,
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
