"""How every process connects to NATS: one function, so credentials and TLS live in one place."""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence

import nats
from nats.aio.client import Client

INBOX_ROOT = "_INBOX"
CA_VAR, CERT_VAR, KEY_VAR = "SENDX_NATS_CA", "SENDX_NATS_CERT", "SENDX_NATS_KEY"


def inbox_prefix_for(user: str) -> str:
    """Each user's private inbox: the server lets `user` subscribe only below this prefix."""
    return f"{INBOX_ROOT}.{user}"


def env_credentials() -> tuple[str | None, str | None]:
    """This process's NATS user from `SENDX_NATS_USER`/`SENDX_NATS_PASSWORD`.

    Set per process by `sendx run`, compose and Kubernetes; (None, None) on an open server.
    """
    user = os.environ.get("SENDX_NATS_USER") or None
    return user, (os.environ.get("SENDX_NATS_PASSWORD") if user else None)


class BusTlsError(ValueError):
    """The TLS settings in the environment cannot be used (a file missing, a key without a cert)."""


def env_tls() -> ssl.SSLContext | None:
    """This process's TLS to NATS from `SENDX_NATS_CA` (and `SENDX_NATS_CERT`/`SENDX_NATS_KEY`).

    `SENDX_NATS_CA` is the partnership CA's certificate (PEM): the server must present a
    certificate it signed for the host dialled, so nobody on the network can pose as the bus.
    With `SENDX_NATS_CERT` and `SENDX_NATS_KEY` the process also shows its own certificate,
    for a server that requires mutual TLS. None when none is set: plain connections (tests,
    the embedded server on loopback). Read here so every process (services, relay, projector,
    API, CLI) is configured the same way; a wrong path fails at start, naming the variable.
    """
    ca, cert, key = (os.environ.get(v) or None for v in (CA_VAR, CERT_VAR, KEY_VAR))
    if ca is None and cert is None and key is None:
        return None
    if (cert is None) != (key is None):
        missing, given = (KEY_VAR, CERT_VAR) if key is None else (CERT_VAR, KEY_VAR)
        raise BusTlsError(f"{given} is set but {missing} is not: a client certificate needs both")
    for variable, path in ((CA_VAR, ca), (CERT_VAR, cert), (KEY_VAR, key)):
        if path is not None and not os.path.isfile(path):
            raise BusTlsError(f"{variable}={path!r}: no such file")
    try:
        context = ssl.create_default_context(cafile=ca)
        if cert is not None:
            context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise BusTlsError(
            f"cannot use the TLS files from {CA_VAR}/{CERT_VAR}/{KEY_VAR}: {exc}"
        ) from exc
    return context


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
    `services.bus.permissions`). Without `tls`, the environment's (`env_tls`); with it, the
    server's certificate is verified against the context's CAs
    (`ssl.create_default_context(cafile=...)`), and the handshake comes first (the server's
    `handshake_first`, deploy/nats/tls.conf), so the password never travels in plain.
    """
    if user is None:
        user, password = env_credentials()
    if user is not None:
        options.setdefault("inbox_prefix", inbox_prefix_for(user))
    if tls is None:
        tls = env_tls()
    if tls is not None:
        options["tls"] = tls
        # TLS before anything else: nats-py would otherwise send CONNECT (with the password)
        # in plain to a server that does not ask for TLS, such as one posing as ours.
        options.setdefault("tls_handshake_first", True)
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
    """The same environment credentials and TLS as keyword arguments for FastStream's
    `NatsBroker`, so a service's command subscriber connects exactly as its relay does."""
    from faststream.nats import NatsSecurity, NatsUserPassword

    user, password = env_credentials()
    tls = env_tls()
    first = tls is not None
    if user is None:
        return {} if tls is None else {
            "security": NatsSecurity(ssl_context=tls, tls_handshake_first=first)
        }
    return {
        "security": NatsUserPassword(
            username=user, password=password or "", ssl_context=tls, tls_handshake_first=first
        ),
        "inbox_prefix": inbox_prefix_for(user),
    }
