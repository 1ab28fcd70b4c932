"""How every process connects to NATS: one place for credentials, TLS and how long to try.

Two ways to connect, for two kinds of process:
- `connect_bus`, for services, relays, projectors and the API: reconnect for ever (a server
  restart must not stop them), with one log line per failing period (`RETRY_LOG_EVERY`), not a
  traceback per attempt.
- `connect_cli`, for a command a person types: bounded by `cli_timeout()` (`--timeout` or
  `$SENDX_CLI_TIMEOUT`, default 15 s). A refused login ends at once, a dead URL at the
  timeout, each with one line (`BusUnreachable`) naming the server, the user and what to do.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence

import nats.errors
from nats.aio.client import Client

from runtime.bus.headers import BusClient
from runtime.settings import settings

INBOX_ROOT = "_INBOX"
CA_VAR, CERT_VAR, KEY_VAR = "SENDX_NATS_CA", "SENDX_NATS_CERT", "SENDX_NATS_KEY"
TIMEOUT_VAR = "SENDX_CLI_TIMEOUT"
RECONNECT_WAIT = 0.5
"""Seconds between attempts to reach the server again."""
RETRY_LOG_EVERY = 10.0
"""A long-running process logs a failing connection at most once per this many seconds."""

log = logging.getLogger("sendx.bus")


def inbox_prefix_for(user: str) -> str:
    """Each user's private inbox: the server lets `user` subscribe only below this prefix."""
    return f"{INBOX_ROOT}.{user}"


def env_credentials() -> tuple[str | None, str | None]:
    """This process's NATS user from `SENDX_NATS_USER`/`SENDX_NATS_PASSWORD`.

    Set per process by `sendx run`, compose and Kubernetes; (None, None) on an open server.
    """
    user = settings().nats_user
    return user, (settings().nats_password if user else None)


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
    config = settings()
    ca, cert, key = config.nats_ca, config.nats_cert, config.nats_key
    if ca is None and cert is None and key is None:
        return None
    if (cert is None) != (key is None):
        missing, given = (KEY_VAR, CERT_VAR) if key is None else (CERT_VAR, KEY_VAR)
        raise BusTlsError(f"{given} is set but {missing} is not: a client certificate needs both")
    for variable, path in ((CA_VAR, ca), (CERT_VAR, cert), (KEY_VAR, key)):
        if path is not None and not path.is_file():
            raise BusTlsError(f"{variable}={str(path)!r}: no such file")
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


def _options(
    url: str | Sequence[str],
    *,
    name: str,
    user: str | None,
    password: str | None,
    tls: ssl.SSLContext | None,
    options: dict[str, object],
) -> dict[str, object]:
    """nats-py's `connect` keywords: the environment's credentials and TLS unless given."""
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
    options.setdefault("max_reconnect_attempts", -1)
    options.setdefault("reconnect_time_wait", RECONNECT_WAIT)
    return {"servers": server_urls(url), "name": name, "user": user, "password": password,
            **options}


ErrorCallback = Callable[[Exception], Awaitable[None]]


def quiet_retries(name: str, url: str | Sequence[str]) -> dict[str, ErrorCallback]:
    """Callbacks that log a failing connection once per `RETRY_LOG_EVERY` seconds, one line
    each (nats-py's default logs a traceback per attempt, two a second), and each recovery."""
    where = ",".join(server_urls(url))
    failing = {"since": 0.0, "logged": 0.0, "count": 0, "down": 0}

    async def on_error(exc: Exception) -> None:
        now = time.monotonic()
        failing["count"] += 1
        if failing["count"] == 1:
            failing["since"] = now
        if now - failing["logged"] >= RETRY_LOG_EVERY:
            failing["logged"] = now
            log.warning(
                "%s: NATS at %s: %s (%d failed attempts in %.0f s; retrying every %g s)",
                name, where, str(exc) or type(exc).__name__, failing["count"],
                now - failing["since"], RECONNECT_WAIT,
            )

    async def on_reconnect() -> None:
        log.warning("%s: NATS at %s: connected again after %d failed attempts",
                    name, where, failing["count"])
        failing.update(count=0, logged=0.0, down=0)

    async def on_disconnect() -> None:
        if not failing["down"]:
            failing["down"] = 1
            log.warning("%s: NATS at %s: disconnected", name, where)

    return {"error_cb": on_error, "reconnected_cb": on_reconnect,
            "disconnected_cb": on_disconnect}


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
    `runtime.bus.permissions`). Without `tls`, the environment's (`env_tls`); with it, the
    server's certificate is verified against the context's CAs
    (`ssl.create_default_context(cafile=...)`), and the handshake comes first (the server's
    `handshake_first`, deploy/nats/tls.conf), so the password never travels in plain.
    Failures are logged by `quiet_retries` unless the caller gives its own callbacks.
    """
    for key, callback in quiet_retries(name, url).items():
        options.setdefault(key, callback)
    nc = BusClient()
    await nc.connect(**_options(  # type: ignore[arg-type]
        url, name=name, user=user, password=password, tls=tls, options=options
    ))
    return nc


def cli_timeout(given: float | None = None) -> float:
    """A CLI command's bound in seconds: `given` (its `--timeout`), else `$SENDX_CLI_TIMEOUT`,
    else 15 (runtime.settings)."""
    if given is None:
        given = settings().cli_timeout
    if not given > 0:
        raise ValueError(f"timeout {given!r}: must be more than 0 seconds")
    return given


class BusUnreachable(ConnectionError):
    """A CLI command could not use the bus; the message is the one line the user sees."""


def _is_refusal(exc: Exception) -> bool:
    return isinstance(exc, nats.errors.AuthorizationError) or "authorization" in str(exc).lower()


def who(user: str | None) -> str:
    return f"user {user}" if user else "no user (SENDX_NATS_USER unset)"


async def connect_cli(
    url: str | Sequence[str],
    *,
    name: str,
    user: str | None = None,
    password: str | None = None,
    timeout: float | None = None,
    advice: str = "check SENDX_NATS_USER and SENDX_NATS_PASSWORD",
    **options: object,
) -> Client:
    """Connect for one CLI command, or raise `BusUnreachable` within `cli_timeout(timeout)`.

    A refused login is final (retrying cannot fix a password), so it ends at once with
    `advice` (which variables to set, which server to restart). Once connected, a dropped
    connection is retried for as long as the timeout, then the command's requests fail.
    `error_cb` in `options` also sees every asynchronous error (e.g. permission violations).
    """
    timeout = cli_timeout(timeout)
    if user is None:
        user, password = env_credentials()
    where = ",".join(server_urls(url))
    refused: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()
    errors: list[Exception] = []
    also = options.pop("error_cb", None)

    async def on_error(exc: Exception) -> None:
        errors.append(exc)
        if _is_refusal(exc) and not refused.done():
            refused.set_result(exc)
        if also is not None:
            await also(exc)  # type: ignore[operator]

    nc = BusClient()
    connecting = asyncio.ensure_future(nc.connect(**_options(  # type: ignore[arg-type]
        url, name=name, user=user, password=password, tls=None,
        options={"error_cb": on_error, "connect_timeout": max(1, min(int(timeout), 5)),
                 "max_reconnect_attempts": max(1, int(timeout / RECONNECT_WAIT)), **options},
    )))
    await asyncio.wait({connecting, refused}, timeout=timeout,
                       return_when=asyncio.FIRST_COMPLETED)
    failure = connecting.exception() if connecting.done() else None
    if connecting.done() and failure is None:
        return nc
    connecting.cancel()
    await asyncio.gather(connecting, return_exceptions=True)
    await nc.close()
    if refused.done():
        raise BusUnreachable(
            f"NATS at {where} refused {who(user)} ({refused.result()}): {advice}"
        )
    last = errors[-1] if errors else failure
    reason = f" (last error: {str(last) or type(last).__name__})" if last else ""
    raise BusUnreachable(
        f"no NATS server answered at {where} for {who(user)} within {timeout:g} s{reason}: "
        f"check --nats or NATS_URL and that the server runs; --timeout or {TIMEOUT_VAR} sets "
        "the wait"
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
