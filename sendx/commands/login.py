"""Who a `sendx` command logs in to NATS as: the role the command belongs to.

`$SENDX_NATS_USER` (and `$SENDX_NATS_PASSWORD`) when set: a deployment gives each person the
password of their role. Otherwise, beside an embedded secured server (`sendx run`, `sendx nats
--secure`), the role's user from `$SENDX_DATA_DIR/nats-credentials.json`: `auditor` for
`sendx audit`, `retrier` for `sendx deadletters`, `projector` for `sendx rebuild`. Otherwise
nobody (an open server). A refused login ends at once with one line saying which variables to
set, rather than retrying for ever.
"""

from __future__ import annotations

from nats.aio.client import Client

from runtime.bus.connection import connect_cli, env_credentials
from runtime.bus.credentials import CREDENTIALS_FILE, credentials_for
from runtime.settings import Settings


def login_as(role: str, settings: Settings) -> dict[str, str]:
    """The NATS user and password a command of `role` connects with ({}: none, an open server)."""
    user, password = env_credentials()
    if user is not None:
        return {"user": user, "password": password or ""}
    if (settings.data_dir / CREDENTIALS_FILE).exists():
        return credentials_for(role, settings.data_dir)
    return {}


async def connect_as(
    url: str, credentials: dict[str, str], *, role: str, name: str, timeout: float | None = None
) -> Client:
    """Connect as `role`, or raise `BusUnreachable` with one line saying which variables to set
    (a refused login ends at once; a dead URL within the CLI timeout)."""
    return await connect_cli(
        url, name=name, timeout=timeout, **credentials,
        advice=(f"on the embedded server, restart it (`sendx run` or `sendx nats --secure`) so "
                f"it knows the {role} user, or set SENDX_DATA_DIR to its data directory; "
                f"elsewhere set SENDX_NATS_USER={role} and SENDX_NATS_PASSWORD"),
    )
