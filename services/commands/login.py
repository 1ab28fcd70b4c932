"""Who a `sendx` command logs in to NATS as: the role the command belongs to.

`$SENDX_NATS_USER` (and `$SENDX_NATS_PASSWORD`) when set: a deployment gives each person the
password of their role. Otherwise, beside an embedded secured server (`sendx run`, `sendx nats
--secure`), the role's user from `$SENDX_DATA_DIR/nats-credentials.json`: `auditor` for
`sendx audit`, `retrier` for `sendx deadletters`. Otherwise nobody (an open server). A refused
login ends at once with one line saying which variables to set, rather than retrying for ever.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from services.bus.connection import connect_bus, env_credentials
from services.bus.credentials import CREDENTIALS_FILE, credentials_for
from services.config import Settings

CONNECT_TIMEOUT = 10.0


def login_as(role: str, settings: Settings) -> dict[str, str]:
    """The NATS user and password a command of `role` connects with ({}: none, an open server)."""
    user, password = env_credentials()
    if user is not None:
        return {"user": user, "password": password or ""}
    if (settings.data_dir / CREDENTIALS_FILE).exists():
        return credentials_for(role, settings.data_dir)
    return {}


async def connect_as(
    url: str, credentials: dict[str, str], *, role: str, name: str
) -> Client:
    """Connect, or say why not: a refused login fails at once rather than retrying for ever."""
    refused: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    async def on_error(exc: Exception) -> None:
        if "authorization" in str(exc).lower() and not refused.done():
            refused.set_result(exc)

    connecting = asyncio.ensure_future(
        connect_bus(url, name=name, error_cb=on_error, **credentials)
    )
    await asyncio.wait({connecting, refused}, timeout=CONNECT_TIMEOUT,
                       return_when=asyncio.FIRST_COMPLETED)
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    who = f"user {credentials['user']}" if credentials.get("user") else "a login without a user"
    if refused.done():
        raise ConnectionError(
            f"NATS at {url} refused {who} ({refused.result()}). On the embedded "
            "server, restart it (`sendx run` or `sendx nats --secure`) so it knows the "
            f"{role} user, or set SENDX_DATA_DIR to its data directory; elsewhere set "
            f"SENDX_NATS_USER={role} and SENDX_NATS_PASSWORD"
        )
    raise ConnectionError(f"no NATS server answered at {url} within {CONNECT_TIMEOUT:.0f}s")
