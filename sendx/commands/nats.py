"""`sendx nats`: run the embedded JetStream server in the foreground and create the streams.

`--secure` starts it with the per-organisation users (passwords generated once into
`$SENDX_DATA_DIR/nats-credentials.json`); `--cluster` runs a 3-node cluster on loopback instead.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path

from runtime.bus.cluster import NatsCluster
from runtime.bus.connection import connect_cli
from runtime.bus.credentials import (
    BREAKGLASS_FILE,
    CREDENTIALS_FILE,
    credentials_for,
    embedded_auth,
)
from runtime.bus.nats_server import NatsServer
from runtime.bus.permissions import BREAKGLASS
from runtime.bus.streams import ensure_streams
from runtime.partnership import load_agreement
from runtime.settings import Settings
from sendx.commands.sharing import agreement_option


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "nats", help="run an embedded nats-server with JetStream until Ctrl-C"
    )
    p.add_argument("--port", type=int, default=4222)
    p.add_argument("--store-dir", type=Path, default=None, help="default: $SENDX_DATA_DIR/nats")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--secure", action="store_true",
        help="require a user per organisation and role (passwords in $SENDX_DATA_DIR)",
    )
    p.add_argument(
        "--breakglass", action="store_true",
        help="with --secure: also let the break-glass user in (password in "
        "$SENDX_DATA_DIR/breakglass/password.json), for an authorised change of the history's "
        "retention; start again without it afterwards",
    )
    mode.add_argument(
        "--cluster", action="store_true",
        help="run a 3-node cluster on free loopback ports, streams with 3 replicas",
    )
    agreement_option(p, ": with --secure, the feed permissions are rendered from it")
    p.set_defaults(func=run)


async def create_streams(
    url: str | Sequence[str], replicas: int = 1, credentials: dict[str, str] | None = None
) -> None:
    nc = await connect_cli(url, name="sendx-nats-setup", **(credentials or {}))
    try:
        await ensure_streams(nc.jetstream(), replicas=replicas)
    finally:
        await nc.close()


def wait_for_ctrl_c() -> None:
    """Return on SIGINT or SIGTERM, so the servers are stopped by PID on the way out."""
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # else SIGTERM kills us outright
    signal.sigwait(stop_signals)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.cluster:
        with NatsCluster(args.store_dir or settings.data_dir / "nats-cluster") as cluster:
            asyncio.run(create_streams(cluster.urls, replicas=3))
            urls = ",".join(cluster.urls)
            print(f"3-node cluster (pids {cluster.pids}) on {urls}; Ctrl-C stops it")
            wait_for_ctrl_c()
        return 0
    store_dir = args.store_dir or settings.data_dir / "nats"
    if args.breakglass and not args.secure:
        raise ValueError("--breakglass needs --secure: an open server has no users to keep out")
    auth = embedded_auth(settings.data_dir, breakglass=args.breakglass,
                         agreement=load_agreement(args.agreement)) if args.secure else None
    with NatsServer(store_dir=store_dir, port=args.port, auth=auth) as server:
        admin = credentials_for("admin", settings.data_dir) if args.secure else None
        asyncio.run(create_streams(server.url, credentials=admin))
        print(
            f"nats-server (pid {server.pid}) on {server.url}, data in {store_dir}; Ctrl-C stops it"
        )
        if args.secure:
            print(f"users and passwords: {settings.data_dir / CREDENTIALS_FILE}")
        if args.breakglass:
            print(f"BREAK GLASS: user {BREAKGLASS} may change the history's retention (password "
                  f"in {settings.data_dir / BREAKGLASS_FILE}); every change shows in the next "
                  "`sendx audit chain`. Restart without --breakglass when done.")
        wait_for_ctrl_c()
    return 0
