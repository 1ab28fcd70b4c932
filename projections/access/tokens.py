"""Access tokens: the TOML file of token hashes, the principals they stand for, demo tokens.

Only SHA-256 hashes of tokens are ever stored (`tokens.toml`, see `deploy/access/README.md`),
so the file can be read by the API without being a secret itself; a token is random (256
bits), so a plain hash is enough — nothing to guess, no need for a slow password hash.

Where the API looks: `$SENDX_ACCESS_TOKENS`, else `$SENDX_DATA_DIR/access/tokens.toml`.
`sendx run` writes demo tokens there (`write_demo_tokens`, kept across runs) and prints them;
real deployments issue tokens with `issue_token()` and hand each to its holder.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.topology import Organisation
from runtime.partnership import DEMO_PARTNERSHIP, organisation
from runtime.private_file import write_private
from runtime.settings import settings

TOKENS_ENV = "SENDX_ACCESS_TOKENS"


class Role(StrEnum):
    PARTNER = "partner"
    AUDITOR = "auditor"
    DASHBOARD = "dashboard"
    OPERATOR = "operator"
    """Monitoring only: `/metrics` on the API port, no figures and no person."""


class TokenEntry(BaseModel):
    """One `[[token]]` of tokens.toml: the hash of a token, never the token itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Who holds it, for the access log.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token")
    role: Role
    org: str | None = Field(default=None, description="The organisation (required for partner).")


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    org: Organisation | None = None

    def __str__(self) -> str:
        if self.org is not None:
            return f"organisation {self.org.code}"
        return f"the {self.role.value} token {self.name!r}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRegistry:
    """Token hash -> principal; constant-time lookups by hashing what is presented."""

    def __init__(self, entries: list[TokenEntry],
                 partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP) -> None:
        self._by_hash: dict[str, Principal] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"token {number} ({entry.name!r})"
            if entry.role is Role.PARTNER and entry.org is None:
                raise ValueError(f"{where}: a partner token needs org = '<organisation code>'")
            try:
                org = organisation(entry.org, partnership) if entry.org else None
            except LookupError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if entry.sha256 in self._by_hash:
                raise ValueError(f"{where}: the same token hash is listed twice")
            self._by_hash[entry.sha256] = Principal(entry.name, entry.role, org)

    @classmethod
    def from_toml(cls, path: Path, partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP,
                  ) -> TokenRegistry:
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        unknown = set(document) - {"token"}
        if unknown:
            raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}; expected [[token]]")
        entries = []
        for number, raw in enumerate(document.get("token", []), start=1):
            try:
                entries.append(TokenEntry.model_validate(raw))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(f"{path}: token {number}: {problems}") from None
        try:
            return cls(entries, partnership)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def identify(self, token: str) -> Principal | None:
        return self._by_hash.get(hash_token(token))

    def __len__(self) -> int:
        return len(self._by_hash)


def issue_token() -> tuple[str, str]:
    """A new random token and its hash (the hash goes in tokens.toml, the token to its holder)."""
    token = f"sendx_{secrets.token_urlsafe(32)}"
    return token, hash_token(token)


def tokens_file(data_dir: Path) -> Path:
    """Where the API reads its tokens: `$SENDX_ACCESS_TOKENS` or `<data dir>/access/tokens.toml`."""
    return settings().access_tokens or data_dir / "access" / "tokens.toml"


def load_tokens(data_dir: Path) -> TokenRegistry:
    path = tokens_file(data_dir)
    if not path.exists():
        raise ValueError(
            f"no access tokens at {path}: create it (see deploy/access/README.md), set "
            f"{TOKENS_ENV}, or start everything with `sendx run`, which writes demo tokens"
        )
    return TokenRegistry.from_toml(path)


@dataclass(frozen=True)
class DemoToken:
    name: str
    role: Role
    org: str | None
    token: str


def demo_tokens(partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP) -> list[DemoToken]:
    """Fresh random tokens: one per organisation, one auditor, one dashboard, one operator."""
    tokens = [DemoToken(f"{org.name} (demo)", Role.PARTNER, org.code, issue_token()[0])
              for org in partnership]
    tokens.append(DemoToken("Partnership auditor (demo)", Role.AUDITOR, None, issue_token()[0]))
    tokens.append(DemoToken("Wall dashboard (demo)", Role.DASHBOARD, None, issue_token()[0]))
    tokens.append(DemoToken("Partnership operator (demo)", Role.OPERATOR, None, issue_token()[0]))
    return tokens


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


DEMO_TOKENS_KEPT = "demo-tokens.json"
"""The plain demo tokens (mode 600) beside tokens.toml: kept so every run signs in the same."""


def kept_demo_tokens(folder: Path) -> dict[str, DemoToken]:
    """The demo tokens an earlier run wrote, by holder name (none if there are none yet)."""
    path = folder / DEMO_TOKENS_KEPT
    if not path.exists():
        return {}
    try:
        kept = [DemoToken(t["name"], Role(t["role"]), t["org"], t["token"])
                for t in json.loads(path.read_text())]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not the demo tokens `sendx run` writes ({exc}); delete it "
                         f"to issue new ones") from None
    return {t.name: t for t in kept}


def write_demo_tokens(data_dir: Path,
                      partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP) -> list[DemoToken]:
    """Write the demo tokens' hashes to `<data dir>/access/tokens.toml`; return the tokens.

    For `sendx run`: call before starting the API and print `format_demo_tokens(...)`. The
    tokens are kept across runs (plain, mode 600, in `access/demo-tokens.json`; also
    `access/demo-tokens.txt` as printed): a run reuses each holder's token and issues one
    only for a holder that has none yet (a new organisation), so a signed-in dashboard keeps
    working after a restart. Delete the folder to issue new ones.
    """
    folder = data_dir / "access"
    folder.mkdir(parents=True, exist_ok=True)
    kept = kept_demo_tokens(folder)
    tokens = []
    for fresh in demo_tokens(partnership):
        old = kept.get(fresh.name)
        same_holder = old is not None and (old.role, old.org) == (fresh.role, fresh.org)
        tokens.append(old if old is not None and same_holder else fresh)
    write_private(folder / DEMO_TOKENS_KEPT, json.dumps(
        [{"name": t.name, "role": t.role.value, "org": t.org, "token": t.token} for t in tokens],
        indent=2) + "\n")
    lines = ["# Demo access tokens written by `sendx run`; kept across runs (demo-tokens.json).\n"]
    for t in tokens:
        lines.append(f"\n[[token]]\nname = {_toml_string(t.name)}\nrole = \"{t.role.value}\"\n"
                     f"sha256 = \"{hash_token(t.token)}\"\n")
        if t.org:
            lines.append(f"org = \"{t.org}\"\n")
    (folder / "tokens.toml").write_text("".join(lines))
    write_private(folder / "demo-tokens.txt", format_demo_tokens(tokens) + "\n")
    return tokens


def format_demo_tokens(tokens: list[DemoToken]) -> str:
    rows = [f"  {t.role.value:<9} {t.org or '-':<7} {t.token}  {t.name}" for t in tokens]
    return "demo access tokens (sign in on the dashboard, or send 'Authorization: Bearer …'):\n" + (
        "\n".join(rows))
