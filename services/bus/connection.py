"""How every process connects to NATS: one function, so credentials and TLS are added in one place."""

from __future__ import annotations

import nats
from nats.aio.client import Client


async def connect_bus(url: str, *, name: str, **options: object) -> Client:
    """Connect with reconnects that outlast a server restart (relays and projections resume)."""
    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        **options,
    )
