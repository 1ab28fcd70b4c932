"""`sendx nats`: run the embedded JetStream server in the foreground and create the streams."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import nats

from services.bus.nats_server import NatsServer
from services.bus.streams import ensure_streams
from services.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("nats", help="run an embedded nats-server with JetStream until Ctrl-C")
    p.add_argument("--port", type=int, default=4222)
    p.add_argument("--store-dir", type=Path, default=None, help="default: $SENDX_DATA_DIR/nats")
    p.set_defaults(func=run)


async def create_streams(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


def run(args: argparse.Namespace) -> int:
    store_dir = args.store_dir or Settings().data_dir / "nats"
    with NatsServer(store_dir=store_dir, port=args.port) as server:
        asyncio.run(create_streams(server.url))
        print(f"nats-server (pid {server.pid}) on {server.url}, data in {store_dir}; Ctrl-C stops it")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0
