"""Cluster routes: only a node holding the route password joins, and only over mutual TLS.

Every `NatsCluster` (so every cluster test) runs with route authentication; here the cluster
also runs with TLS, as deployed, and two impostors try to join it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from runtime.bus.cluster import (
    ROUTE_PASSWORD_VAR,
    ROUTES_VAR,
    NatsCluster,
    NodeAddress,
    render_node,
    route_env,
)
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import NatsServer, ServerTls, free_port
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from tests.runtime.bus.conftest import Certificates
from tests.waiting import eventually, eventually_sync

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture
def tls_cluster(tmp_path: Path, certificates: Certificates) -> Iterator[NatsCluster]:
    tls = ServerTls(certificates.cert_file, certificates.key_file, ca_file=certificates.ca_file)
    with NatsCluster(tmp_path / "cluster", size=3, tls=tls) as running:
        yield running


def route_peers(address: NodeAddress) -> set[str]:
    """The server names a node has routes to, from its monitoring endpoint."""
    url = f"http://{address.host}:{address.http_port}/routez"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return {route["remote_name"] for route in json.load(answer)["routes"]}


def start_impostor(
    base: Path, target: NodeAddress, *, env: dict[str, str], tls: ServerTls | None
) -> tuple[NatsServer, NodeAddress]:
    """A node of the same cluster name that dials `target`'s route port."""
    me = NodeAddress("impostor", target.host, free_port(), free_port(), free_port())
    base.mkdir(parents=True)
    config = base / "nats-server.conf"
    config.write_text(render_node(me, [target], str(base / "store"), route_tls=tls is not None))
    server = NatsServer(
        store_dir=base / "store", port=me.client_port, host=me.host, config=config,
        log_file=base / "nats-server.log", store_dir_in_config=True, tls=tls, env=env,
    )
    return server.start(), me


def wait_for_log(log: Path, text: str, timeout: float = 30.0) -> bool:
    return eventually_sync(lambda: log.exists() and text in log.read_text(errors="replace"),
                           timeout, what=f"{text!r} in {log}", interval=0.2)


async def replicas_current(js: JetStreamContext, timeout: float = 30.0) -> bool:
    async def current() -> bool:
        cluster = (await js.stream_info(EVENTS_STREAM)).cluster
        replicas = (cluster.replicas or []) if cluster is not None else []
        return bool(cluster is not None and cluster.leader and len(replicas) == 2 and all(
            r.current and not r.lag for r in replicas
        ))

    return await eventually(current, timeout, what="both replicas current", interval=0.2)


async def test_a_tls_cluster_replicates_every_event_to_three_nodes(
    tls_cluster: NatsCluster, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process configured as deployed: the CA in its environment, every node's tls:// URL
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    assert all(url.startswith("tls://") for url in tls_cluster.urls)
    nc = await connect_bus(tls_cluster.urls, name="test-tls-cluster")
    try:
        # when it creates the streams with three replicas and publishes
        js = nc.jetstream()
        await ensure_streams(js, replicas=3)
        ack = await js.publish("send.evt.v1.856.ehc.plan_issued.p_" + "c" * 32, b"{}")
        # then the event is acknowledged, and the stream's two replicas catch up with its leader:
        # the nodes reach each other over their authenticated, encrypted routes
        assert ack.seq == 1
        assert await replicas_current(js), "the replicas did not catch up"
    finally:
        await nc.close()
    # and each node routes to exactly the two others
    for address in tls_cluster.addresses:
        others = {a.server_name for a in tls_cluster.addresses} - {address.server_name}
        assert route_peers(address) == others


def refusal_seen(
    cluster: NatsCluster, base: Path, *, env: dict[str, str], tls: ServerTls | None, reason: str
) -> bool:
    """Start an impostor dialling the cluster's first node; True once that node logged
    `reason` for it, and no route formed on either side."""
    target = cluster.addresses[0]
    impostor, me = start_impostor(base, target, env=env, tls=tls)
    try:
        log = cluster.node_named(target.server_name).log_file
        assert log is not None
        return (
            wait_for_log(log, reason)
            and "impostor" not in route_peers(target)
            and route_peers(me) == set()
        )
    finally:
        impostor.stop()


def test_a_node_without_route_credentials_is_refused(
    tls_cluster: NatsCluster, certificates: Certificates, tmp_path: Path
) -> None:
    # given an impostor with a certificate from the right CA but no route credentials
    target = tls_cluster.addresses[0]
    tls = ServerTls(certificates.cert_file, certificates.key_file, ca_file=certificates.ca_file)
    env = {**route_env([target], "its-own", cost=4), ROUTES_VAR: f'["{target.route()}"]'}
    # when it dials the cluster, then the cluster refuses its route
    assert refusal_seen(tls_cluster, tmp_path / "impostor", env=env, tls=tls,
                        reason="Router connection closed: Authentication Failure")


def test_a_node_dialling_a_route_without_tls_is_refused(
    tls_cluster: NatsCluster, tmp_path: Path
) -> None:
    # given an impostor that even knows the route password, but speaks plain NATS on routes
    target = tls_cluster.addresses[0]
    env = {
        **route_env([target], tls_cluster.route_password, cost=4),
        ROUTE_PASSWORD_VAR: '"unused"',
    }
    assert tls_cluster.route_password in env[ROUTES_VAR]
    # when it dials the cluster, then the TLS handshake fails and no route forms
    assert refusal_seen(tls_cluster, tmp_path / "impostor", env=env, tls=None,
                        reason="TLS route handshake error")
