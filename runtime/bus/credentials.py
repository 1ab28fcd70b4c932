"""NATS passwords: generated once for the embedded server, environment references in production.

Embedded (`sendx run`, tests): `embedded_auth(data_dir)` creates `<data_dir>/nats-credentials.json`
(one random password per user, mode 0600) the first time, keeps it afterwards (adding users that
the partnership gained), and renders `<data_dir>/nats-auth.conf` (mode 0600) for
`NatsServer(auth=...)`. That include holds the passwords in plain text: the JSON beside it holds
them anyway (every local process reads its own from there), so hashing them would add a bcrypt
check to every connection and protect nothing.

Production (`deploy/nats/auth.conf`, rendered by `sendx deploy nats-config`): each password is
`$SENDX_NATS_PASSWORD_<USER>`, set in nats-server's environment to the password's bcrypt hash
in double quotes (`sendx deploy nats-password USER` prints both); nats-server recognises a
`$2b$...` password as bcrypt. The server host then holds no password a client could use.

Break glass (`runtime.bus.permissions.breakglass_user`): the one user that may change the
retention of the history is in neither file by default. Embedded, `embedded_auth(...,
breakglass=True)` (`sendx nats --secure --breakglass`) renders it in with a password kept apart
in `<data_dir>/breakglass/password.json`; in production `sendx deploy nats-config --breakglass`
renders it with `$SENDX_NATS_PASSWORD_BREAKGLASS` (deploy/nats/README.md, "Break glass").

Both are rendered from the data-sharing agreement too (`agreement`, the demo one by default):
only its recipients' clients may read a feed, and the feeder publishes only on their feeds.
A changed agreement with a new recipient needs the file rendered again and nats-server reloaded.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from contracts.agreements import Agreement
from contracts.topology import Organisation
from runtime.bus.permissions import (
    BREAKGLASS,
    NatsUser,
    breakglass_user,
    partnership_users,
    render_authorization,
    service_user,
)
from runtime.partnership import DEMO_PARTNERSHIP, load_agreement
from runtime.private_file import write_private as _write_private

CREDENTIALS_FILE = "nats-credentials.json"
BREAKGLASS_FILE = "breakglass/password.json"
AUTH_INCLUDE_FILE = "nats-auth.conf"
PASSWORD_ENV_PREFIX = "SENDX_NATS_PASSWORD_"
BCRYPT_COST = 11


def password_env_var(user: str) -> str:
    """`la-856-client` -> `SENDX_NATS_PASSWORD_LA_856_CLIENT`."""
    return PASSWORD_ENV_PREFIX + user.upper().replace("-", "_")


def new_password() -> str:
    return secrets.token_urlsafe(32)


def bcrypt_env_value(password: str, cost: int = BCRYPT_COST) -> str:
    """The server's `SENDX_NATS_PASSWORD_<USER>`: the bcrypt hash, quoted for nats' parser.

    `bcrypt` is imported here, not at the top: only this production helper needs it, and every
    process imports this module for `credentials_for`.
    """
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()
    return f'"{hashed}"'


def _users(
    partnership: Iterable[Organisation], breakglass: bool, agreement: Agreement
) -> list[NatsUser]:
    users = partnership_users(partnership, agreement.recipients)
    return users + [breakglass_user()] if breakglass else users


def rendered_from(agreement: Agreement) -> str:
    """The header line naming the agreement the feed permissions come from: a changed
    agreement changes the file, so a stale rendering shows."""
    return (f"Feeds as agreement {agreement.id} ({agreement.digest[:12]}) entitles: "
            f"{', '.join(agreement.recipients) or 'no recipient'}.\n")


def production_auth(
    partnership: Iterable[Organisation] = DEMO_PARTNERSHIP, *, breakglass: bool = False,
    agreement: Agreement | None = None,
) -> str:
    """The production `auth.conf`; feed permissions from `agreement` (None: the demo one)."""
    agreement = agreement or load_agreement()
    users = _users(partnership, breakglass, agreement)
    header = (
        "Rendered by `sendx deploy nats-config` from contracts/topology.py and the data-sharing\n"
        "agreement (`--agreement`): do not edit by hand.\n"
        "One user per organisation service, per organisation client, and per role; permissions\n"
        "as documented in runtime/bus/permissions.py.\n" + rendered_from(agreement) +
        "Each password is an environment variable holding the bcrypt hash of the password, in\n"
        "double quotes (nats-server parses environment values as config text), for example\n"
        "  SENDX_NATS_PASSWORD_LA_856='\"$2b$11$...\"'\n"
        "`sendx deploy nats-password la-856` generates a password and prints both values.\n"
        "Variables expected:\n" + "".join(f"  {password_env_var(u.name)}\n" for u in users)
        + ("The break-glass user is rendered in: remove it again (render without --breakglass,\n"
           "reload) once the authorised change is made (deploy/nats/README.md).\n"
           if breakglass else
           "No break-glass user: nobody can change the history's retention (see\n"
           "deploy/nats/README.md, \"Break glass\", to enable it for an authorised change).\n")
    )
    return render_authorization(users, lambda user: "$" + password_env_var(user.name), header)


def embedded_credentials(
    data_dir: Path, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP
) -> dict[str, str]:
    """user -> password for every user of `partnership`, created once and kept in `data_dir`."""
    path = data_dir / CREDENTIALS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {user.name for user in partnership_users(partnership)}
    missing = wanted - stored.keys()
    if missing:
        stored.update({name: new_password() for name in sorted(missing)})
        _write_private(path, json.dumps(stored, indent=2, sort_keys=True) + "\n")
    return stored


def breakglass_credentials(data_dir: Path) -> dict[str, str]:
    """The embedded server's break-glass login, created once in its own file (not in
    `nats-credentials.json`, which every local process reads)."""
    path = data_dir / BREAKGLASS_FILE
    if not path.exists():
        _write_private(path, json.dumps({"user": BREAKGLASS, "password": new_password()}) + "\n")
        os.chmod(path.parent, 0o700)
    return json.loads(path.read_text())


def embedded_auth(
    data_dir: Path,
    partnership: Iterable[Organisation] = DEMO_PARTNERSHIP,
    *,
    breakglass: bool = False,
    agreement: Agreement | None = None,
) -> Path:
    """Render `<data_dir>/nats-auth.conf` from the stored passwords, for `NatsServer(auth=...)`;
    with `breakglass`, the break-glass user too (every start without it leaves it out again);
    feed permissions from `agreement` (None: the demo one). Rendering again and sending
    nats-server SIGHUP applies a changed agreement's permissions to the running server."""
    partnership = tuple(partnership)
    agreement = agreement or load_agreement()
    passwords = dict(embedded_credentials(data_dir, partnership))
    if breakglass:
        passwords[BREAKGLASS] = breakglass_credentials(data_dir)["password"]
    header = (
        "Rendered by runtime/bus/credentials.py for the embedded server; regenerated at start.\n"
        f"Passwords are those in {CREDENTIALS_FILE} beside this file (plain: see the module)"
        + (f",\nand the break-glass user's in {BREAKGLASS_FILE}." if breakglass else ".")
        + "\n" + rendered_from(agreement).rstrip()
    )
    text = render_authorization(
        _users(partnership, breakglass, agreement),
        lambda user: json.dumps(passwords[user.name]), header,
    )
    path = data_dir / AUTH_INCLUDE_FILE
    _write_private(path, text)
    return path


def user_name_for(who: str, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP) -> str:
    """An organisation code means its service's user (`856` -> `la-856`); otherwise a user name."""
    for org in partnership:
        if org.code == who:
            return service_user(org)
    return who


def credentials_for(
    who: str, data_dir: Path, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP
) -> dict[str, str]:
    """`connect_bus(url, name=..., **credentials_for("856", data_dir))` as LA 856's service.

    `who` is an organisation code (its service), a role (`projector`, `dashboard`, `auditor`,
    `admin`, `retrier`) or any user name (`la-856-client`: the partner system of LA 856).
    """
    partnership = tuple(partnership)
    passwords = embedded_credentials(data_dir, partnership)
    user = user_name_for(who, partnership)
    if user not in passwords:
        known = ", ".join(sorted(passwords))
        raise LookupError(f"no NATS user {who!r} in {data_dir / CREDENTIALS_FILE} (known: {known})")
    return {"user": user, "password": passwords[user]}
