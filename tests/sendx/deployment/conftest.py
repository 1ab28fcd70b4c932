"""What the deploy tests share: test certificates, and a NATS node's environment as deployed."""

from __future__ import annotations

from runtime.bus.cluster import route_env
from runtime.bus.credentials import bcrypt_env_value, password_env_var
from runtime.bus.permissions import partnership_users
from sendx.deployment.nats import cluster_nodes
from tests.runtime.bus.conftest import Certificates, certificates  # noqa: F401  (fixture)


def nats_node_environment(certs: Certificates, hosts: list[str]) -> dict[str, str]:
    """What an operator sets for nats-server: a quoted bcrypt hash per user, the route password
    and URLs, and quoted certificate paths (here the test CA's)."""
    env = {
        password_env_var(user.name): bcrypt_env_value("not-the-real-one", cost=4)
        for user in partnership_users()
    }
    env |= route_env(cluster_nodes(hosts), "not-the-real-route-password", cost=4)
    env["SENDX_NATS_TLS_CERT"] = f'"{certs.cert_file}"'
    env["SENDX_NATS_TLS_KEY"] = f'"{certs.key_file}"'
    env["SENDX_NATS_TLS_CA"] = f'"{certs.ca_file}"'
    return env
