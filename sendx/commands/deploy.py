"""`sendx deploy`: render the production NATS configuration from the partnership's topology.

    sendx deploy nats-config --out DIR [--cluster HOST1,HOST2,HOST3] [--agreement FILE]
    sendx deploy nats-password USER
    sendx deploy route-password HOST1,HOST2,HOST3

`nats-config` writes DIR/auth.conf (users and permissions derived from contracts/topology.py
and the data-sharing agreement: who may read a feed, where the feeder publishes; passwords as
`$SENDX_NATS_PASSWORD_<USER>`) beside copies of production.conf and tls.conf,
and with `--cluster` one DIR/cluster/<node>.conf per host from deploy/nats/cluster/node.conf.
`nats-password` generates a password and prints the client's secret and the server's variable.
`route-password` generates the cluster's route password and prints what every node's environment
needs: its bcrypt hash and the route URLs carrying it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.bus.cluster import route_env
from runtime.bus.credentials import (
    bcrypt_env_value,
    new_password,
    password_env_var,
)
from runtime.bus.nats_server import DEPLOY_DIR
from runtime.bus.permissions import BREAKGLASS, partnership_users
from runtime.partnership import load_agreement
from sendx.commands.sharing import agreement_option
from sendx.deployment.nats import cluster_nodes, write_nats_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("deploy", help="render production configuration")
    sub = p.add_subparsers(dest="action", required=True)
    config = sub.add_parser("nats-config", help="write auth.conf, production.conf, tls.conf")
    config.add_argument("--out", type=Path, required=True, help="directory to write into")
    config.add_argument(
        "--cluster", default=None, metavar="HOSTS",
        help="comma-separated hosts of a 3-node cluster: also write cluster/<node>.conf",
    )
    config.add_argument(
        "--breakglass", action="store_true",
        help="also render the break-glass user (an authorised change of the history's "
        "retention); render again without it afterwards",
    )
    agreement_option(config, ": the feed permissions are rendered from it")
    config.set_defaults(func=run_nats_config)
    password = sub.add_parser("nats-password", help="generate one NATS user's password")
    password.add_argument("user", help="e.g. la-856, la-856-client, projector, admin")
    password.set_defaults(func=run_nats_password)
    routes = sub.add_parser(
        "route-password", help="generate the cluster's route password for every node's env"
    )
    routes.add_argument("hosts", metavar="HOSTS", help="comma-separated, at least three")
    routes.set_defaults(func=run_route_password)
    manifests = sub.add_parser(
        "manifests", help="write deploy/compose and deploy/k8s from the topology"
    )
    manifests.add_argument("--out", type=Path, default=DEPLOY_DIR, help="default: deploy/")
    agreement_option(manifests, ": the NATS feed permissions are rendered from it")
    manifests.set_defaults(func=run_manifests)
    streams = sub.add_parser("streams", help="create or update the streams (as admin)")
    streams.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    streams.add_argument("--replicas", type=int, default=3)
    streams.set_defaults(func=run_streams)
    cipher = sub.add_parser("cipher-key", help="generate an AES key for SENDX_CIPHER_KEY")
    cipher.set_defaults(func=run_cipher_key)


def run_nats_config(args: argparse.Namespace) -> int:
    hosts = [h.strip() for h in args.cluster.split(",")] if args.cluster else None
    if hosts is not None and len(hosts) < 3:
        raise ValueError("--cluster needs at least three hosts (a majority must survive one loss)")
    agreement = load_agreement(args.agreement)
    for path in write_nats_config(args.out, hosts, breakglass=args.breakglass,
                                  agreement=agreement):
        print(f"wrote {path}")
    return 0


def run_nats_password(args: argparse.Namespace) -> int:
    known = {user.name for user in partnership_users()} | {BREAKGLASS}
    if args.user not in known:
        raise LookupError(f"no NATS user {args.user!r} (known: {', '.join(sorted(known))})")
    password = new_password()
    var = password_env_var(args.user)
    print(f"# the {args.user} process connects with this password (keep it secret):")
    print(password)
    print("# nats-server's environment holds only its bcrypt hash:")
    print(f"{var}='{bcrypt_env_value(password)}'")
    return 0


def run_route_password(args: argparse.Namespace) -> int:
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    if len(hosts) < 3:
        raise ValueError(
            f"route-password needs at least three hosts (a majority must survive one loss), "
            f"got {len(hosts)}: {args.hosts!r}"
        )
    env = route_env(cluster_nodes(hosts), new_password())
    print("# every NATS node's environment (secrets/nats-server.env, the Secret sendx-nats-server)")
    for variable, value in env.items():
        print(f"{variable}='{value}'")
    return 0


def run_manifests(args: argparse.Namespace) -> int:
    from sendx.deployment.manifests import write_deploy_files

    for path in write_deploy_files(args.out, load_agreement(args.agreement)):
        print(f"wrote {path}")
    return 0


def run_streams(args: argparse.Namespace) -> int:
    """In a deployment: `SENDX_NATS_USER=admin`, `SENDX_NATS_PASSWORD` from its Secret."""
    import asyncio

    from runtime.settings import settings
    from sendx.commands.nats import create_streams

    config = settings()
    user = config.nats_user
    credentials = {"user": user, "password": config.nats_password or ""}
    url = args.nats or config.nats_url
    asyncio.run(create_streams(url, args.replicas, credentials if user else None))
    print(f"streams ready on {url} with {args.replicas} replica(s)")
    return 0


def run_cipher_key(args: argparse.Namespace) -> int:
    from eventsourcing.cipher import AESCipher

    print(AESCipher.create_key(32))
    return 0
