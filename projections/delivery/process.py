"""`sendx webhooks run --endpoint NAME`: one endpoint's delivery process until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from projections.delivery.config import load_webhooks, webhooks_file
from projections.delivery.deliverer import Delivery
from runtime.bus.connection import connect_bus
from runtime.settings import Settings


async def run_delivery(settings: Settings, endpoint_name: str) -> None:
    endpoint = load_webhooks(webhooks_file(settings.data_dir)).named(endpoint_name)
    nc = await connect_bus(settings.nats_url, name=f"sendx-webhook-{endpoint.name}")
    delivery = Delivery(nc, endpoint)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, delivery.stop)
    try:
        await delivery.run()
    finally:
        await nc.drain()
