"""How every process connects to NATS: one function, so credentials and TLS live in one place."""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence

import nats
from nats.aio.client import Client

INBOX_ROOT = "_INBOX"


def inbox_prefix_for(user: str) -> str:
    """Each user's private inbox: the server lets `user` subscribe only below this prefix."""
    return f"{INBOX_ROOT}.{user}"


def env_credentials() -> tuple[str | None, str | None]:
    """This process's NATS user from `SENDX_NATS_USER`/`SENDX_NATS_PASSWORD`.

    Set per process by `sendx run`, compose and Kubernetes; (None, None) on an open server.
    """
    user = os.environ.get("SENDX_NATS_USER") or None
    return user, (os.environ.get("SENDX_NATS_PASSWORD") if user else None)


def server_urls(url: str | Sequence[str]) -> list[str]:
    """`nats://a:4222,nats://b:4222` (as in NATS_URL) or a list: every server of a cluster."""
    urls = url.split(",") if isinstance(url, str) else list(url)
    return [u.strip() for u in urls if u.strip()]


async def connect_bus(
    url: str | Sequence[str],
    *,
    name: str,
    user: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    **options: object,
) -> Client:
    """Connect with reconnects that outlast a server restart (relays and projections resume).

    Without `user`, the process's own credentials from the environment are used. With a
    user, replies and JetStream deliveries come to that user's own inbox (see
    `services.bus.permissions`); with `tls`, the server's certificate is verified against the
    context's CAs (`ssl.create_default_context(cafile=...)`).
    """
    if user is None:
        user, password = env_credentials()
    if user is not None:
        options.setdefault("inbox_prefix", inbox_prefix_for(user))
    if tls is not None:
        options["tls"] = tls
    return await nats.connect(
        servers=server_urls(url),
        name=name,
        user=user,
        password=password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        **options,
    )


def broker_credentials() -> dict[str, object]:
    """The same environment credentials as keyword arguments for FastStream's `NatsBroker`."""
    from faststream.nats import NatsUserPassword

    user, password = env_credentials()
    if user is None:
        return {}
    return {
        "security": NatsUserPassword(username=user, password=password or ""),
        "inbox_prefix": inbox_prefix_for(user),
    }
