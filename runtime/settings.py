"""Every variable sendx reads, in one typed model, so every process is configured the same way.

`Settings` (pydantic-settings) names each variable once: its type, default and meaning. The
README's configuration table is rendered from it (`sendx settings`, `settings_table`), and a
test keeps the two equal, so a new variable cannot be left undocumented.

Nothing reads the environment at import time: code asks `settings()` when it needs a value
(the CLI asks first, so a bad value stops a command before it starts) or is handed a
`Settings`. A bad value is one line naming the variable, the value and what is allowed
(`SettingsError`), never a traceback. Child processes still get their configuration as
environment variables (`sendx run`, the supervisor, compose, Kubernetes).
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Literal

from limits import parse_many
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_PARTNERSHIP_KEY = "demo-partnership-key-not-for-production"
GIB = 1024**3
MIB = 1024**2
LOOPBACK = "127.0.0.1"
KEEPS_EMPTY = frozenset({"AGGREGATE_CACHE_MAXSIZE", "aggregate_cache_maxsize"})
"""Variables whose empty value means something (eventsourcing: no aggregate cache); for every
other variable, set-but-empty is the same as unset."""


class SettingsError(ValueError):
    """A variable's value cannot be used: one line per variable, naming it and the value."""


def variable(
    name: str, default: Any, meaning: str, *, problem: str | None = None,
    shown: str | None = None, secret: bool = False,
) -> Any:
    """A field read from the variable `name`; `problem` says what is allowed (for the error),
    `shown` is the default as the README shows it where the value itself would mislead."""
    extra = {k: v for k, v in (("problem", problem), ("shown", shown)) if v is not None}
    return Field(default, validation_alias=name, description=meaning, repr=not secret,
                 json_schema_extra=extra or None)


class Settings(BaseSettings):
    """The configuration of one process: `Settings()` reads the environment; keywords (by field
    name) override it, as tests and callers that know better do."""

    model_config = SettingsConfigDict(
        case_sensitive=True, frozen=True, validate_by_name=True, extra="ignore",
        str_strip_whitespace=True,
    )

    api_port: int = variable(
        "PORT", 8000, "API and dashboard port (127.0.0.1 unless `SENDX_API_HOST`)",
        problem="must be a port number from 1 to 65535", shown="8000",
    )
    api_host: str = variable(
        "SENDX_API_HOST", LOOPBACK,
        "address the API listens on: loopback unless a container sets `0.0.0.0` (deploy/)",
    )
    data_dir: Path = variable(
        "SENDX_DATA_DIR", Path(".sendx"),
        "SQLite stores, NATS data, logs, demo tokens and credentials, the auditor's checkpoint "
        "(`auditor/checkpoint.json`)",
    )
    nats_url: str = variable(
        "NATS_URL", "nats://127.0.0.1:4222",
        "the JetStream server(s), comma-separated for a cluster",
    )
    store: Literal["sqlite", "postgres"] = variable(
        "SENDX_STORE", "sqlite", "`postgres` puts every store and read model in PostgreSQL",
        problem="must be 'sqlite' or 'postgres'",
    )
    postgres_host: str = variable(
        "POSTGRES_HOST", LOOPBACK,
        "service stores on PostgreSQL (eventsourcing's own setting, also read by it; tables "
        "prefixed `<kind>_<org>_`) and the read models without `SENDX_READ_MODEL_DSN`",
    )
    postgres_port: int = variable(
        "POSTGRES_PORT", 5432, "PostgreSQL port (eventsourcing's own setting)",
        problem="must be a port number",
    )
    postgres_user: str = variable("POSTGRES_USER", "", "PostgreSQL user (eventsourcing's own)",
                                  shown="unset")
    postgres_password: str = variable(
        "POSTGRES_PASSWORD", "", "PostgreSQL password (eventsourcing's own)", secret=True,
        shown="unset",
    )
    postgres_dbname: str | None = variable(
        "POSTGRES_DBNAME", None, "PostgreSQL database (eventsourcing's own)",
    )
    read_model_dsn: str | None = variable(
        "SENDX_READ_MODEL_DSN", None,
        "read models on PostgreSQL (one schema per read model); else built from `POSTGRES_*`",
        secret=True,
    )
    store_worker: Literal["on", "off", "auto"] = variable(
        "SENDX_STORE_WORKER", "auto",
        "`on`: each live projector folds in a store worker process (two cores per projector); "
        "`off`: in a thread; `auto`: on from 4 cores up (`projections/reading/store_worker.py`)."
        " Rebuilds always use workers",
        problem="use on, off or auto",
    )
    partnership_key: bytes = variable(
        "SENDX_PARTNERSHIP_KEY", DEMO_PARTNERSHIP_KEY.encode(),
        "HMAC key turning NHS numbers into person keys; the same across the partnership",
        shown="demo key (warns)", secret=True,
    )
    cipher_key: str | None = variable(
        "SENDX_CIPHER_KEY", None,
        "AES key (base64, `sendx deploy cipher-key`): each organisation's store encrypted at "
        "rest (eventsourcing cipher)",
        secret=True,
    )
    access_tokens: Path | None = variable(
        "SENDX_ACCESS_TOKENS", None, "token hashes → organisation and role for the API",
        shown="`$SENDX_DATA_DIR/access/tokens.toml`",
    )
    events_max_bytes: int = variable(
        "SENDX_EVENTS_MAX_BYTES", 16 * GIB,
        "explicit ceiling of the history stream (the server refuses writes beyond it); set when "
        "the stream is created: changing it later needs the break-glass user, and `sendx audit` "
        "compares the stream with it (give the auditor the same value)",
        problem="must be a positive number of bytes", shown="16 GiB",
    )
    deadletter_max_bytes: int = variable(
        "SENDX_DEADLETTER_MAX_BYTES", 2 * GIB,
        "explicit ceiling of the dead-letter stream (the server refuses writes beyond it)",
        problem="must be a positive number of bytes", shown="2 GiB",
    )
    feeds_max_bytes: int = variable(
        "SENDX_FEEDS_MAX_BYTES", GIB // 2 - 64 * MIB,
        "ceiling of SEND_FEEDS, every partner's feed (~1 KiB a delivery); reserved out of the "
        "server's `max_file_store` beside the history's (and the feed keys' 64 MiB)",
        problem="must be a positive number of bytes", shown="448 MiB",
    )
    alerts_max_bytes: int = variable(
        "SENDX_ALERTS_MAX_BYTES", GIB // 2,
        "ceiling of SEND_ALERTS (~1 KiB an alert; the oldest are discarded past it)",
        problem="must be a positive number of bytes", shown="512 MiB",
    )
    metrics_port: int = variable(
        "SENDX_METRICS_PORT", 0,
        "Prometheus `/metrics`, `/healthz`, `/readyz` of services, projectors and the API on a "
        "port of their own, no token (`--metrics-port` wins; on the API port `/metrics` needs "
        "the operator token)",
        problem="must be a port number (0 = off)", shown="0 (off)",
    )
    metrics_host: str = variable(
        "SENDX_METRICS_HOST", LOOPBACK, "address the metrics server listens on",
    )
    alerts_today: date | None = variable(
        "SENDX_ALERTS_TODAY", None,
        "fixes the day the alert process evaluates as of (YYYY-MM-DD: a demo or a test); unset, "
        "today (UTC)", problem="must be a date YYYY-MM-DD",
    )
    alerts_interval: float = variable(
        "SENDX_ALERTS_INTERVAL", 60.0,
        "seconds between the alert process's evaluations when nothing is announced",
        problem="must be a positive number of seconds",
    )
    feeds_agreement_interval: float = variable(
        "SENDX_FEEDS_AGREEMENT_INTERVAL", 5.0,
        "seconds between the feed process's checks of the agreement file's digest (a changed, "
        "valid agreement is adopted between batches; SIGHUP checks at once)",
        problem="must be a positive number of seconds",
    )
    webhooks: Path | None = variable(
        "SENDX_WEBHOOKS", None,
        "the webhook endpoints file (`sendx webhooks`); unset, `$SENDX_DATA_DIR/webhooks.toml`",
    )
    nats_user: str | None = variable(
        "SENDX_NATS_USER", None,
        "the process's own NATS user (`runtime/bus/permissions.py`); `sendx run` sets it per "
        "process. CLI commands log in from `$SENDX_DATA_DIR/nats-credentials.json` without it",
    )
    nats_password: str | None = variable(
        "SENDX_NATS_PASSWORD", None, "the password of `SENDX_NATS_USER`", secret=True,
    )
    courier_nats_user: str | None = variable(
        "SENDX_COURIER_NATS_USER", None,
        "the API's second NATS user, for its delivery routes only (`courier`: reads SEND_ALERTS, "
        "SEND_FEEDS and SEND_DEADLETTER; `sendx run` sets it); unset, they use the API's own",
    )
    courier_nats_password: str | None = variable(
        "SENDX_COURIER_NATS_PASSWORD", None, "the password of `SENDX_COURIER_NATS_USER`",
        secret=True,
    )
    nats_ca: Path | None = variable(
        "SENDX_NATS_CA", None,
        "CA certificate (PEM) the process verifies the NATS servers against: TLS (handshake "
        "first)",
    )
    nats_cert: Path | None = variable(
        "SENDX_NATS_CERT", None,
        "the process's client certificate, where the servers require mutual TLS",
    )
    nats_key: Path | None = variable(
        "SENDX_NATS_KEY", None, "the key of `SENDX_NATS_CERT`",
    )
    cli_timeout: float = variable(
        "SENDX_CLI_TIMEOUT", 15.0,
        "seconds a CLI command (`command`, `import`, `audit`, `rebuild`, `nats`) waits for the "
        "server and each reply (`--timeout` on `command`/`import`); a refused login ends at "
        "once, a dead URL at the timeout, each with one line naming the server, the user and "
        "what to do (`runtime/bus/connection.py`)",
        problem="must be a number of seconds", shown="15",
    )
    api_rate_limit: str = variable(
        "SENDX_API_RATE_LIMIT", "20/second;600/minute",
        "requests per API token (per client address without one); past it 429 with "
        "`Retry-After`, logged in the access log",
        problem="must be limits such as '20/second;600/minute' (a count per second, minute, "
        "hour or day, separated by ';')",
    )
    progress: Literal["bar", "plain", "off"] | None = variable(
        "SENDX_PROGRESS", None,
        "`bar` (rich, on a terminal), `plain` (a line every 10 s, elsewhere) or `off`: progress "
        "of `import`, `rebuild`, `audit verify/replay/chain` on stderr (`runtime/progress.py`)",
        problem="must be bar, plain or off", shown="auto",
    )
    aggregate_cache_maxsize: int | None = variable(
        "AGGREGATE_CACHE_MAXSIZE", 10_000,
        "aggregates each service keeps in memory (eventsourcing's own setting; set but empty: "
        "no cache)",
        problem="must be a whole number of aggregates", shown="10,000",
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        """`VAR=` as unset (what the code did with `os.environ.get(...) or default`)."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items()
                if not (isinstance(v, str) and not v.strip() and k not in KEEPS_EMPTY)}

    @field_validator("store", "store_worker", "progress", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("aggregate_cache_maxsize", mode="before")
    @classmethod
    def _empty_is_no_cache(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_port")
    @classmethod
    def _a_port(cls, value: int) -> int:
        if not 0 < value <= 65535:
            raise ValueError("out of range")
        return value

    @field_validator("metrics_port")
    @classmethod
    def _a_port_or_off(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("out of range")
        return value

    @field_validator(
        "events_max_bytes", "deadletter_max_bytes", "feeds_max_bytes", "alerts_max_bytes",
        "cli_timeout", "alerts_interval", "feeds_agreement_interval",
    )
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("not positive")
        return value

    @field_validator("api_rate_limit")
    @classmethod
    def _limits(cls, value: str) -> str:
        parse_many(value)
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(explain(exc)) from None

    def sqlite_path(self, name: str) -> Path:
        path = self.data_dir / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def warn_if_demo_key(self) -> None:
        if self.partnership_key == DEMO_PARTNERSHIP_KEY.encode():
            print("warning: SENDX_PARTNERSHIP_KEY not set; using the demo key", file=sys.stderr)


FIELDS = Settings.model_fields
VARIABLES: dict[str, str] = {str(f.validation_alias): name for name, f in FIELDS.items()}
"""Every variable's name → its field."""


def _extra(name: str, key: str) -> str | None:
    extra = FIELDS[name].json_schema_extra
    return extra.get(key) if isinstance(extra, dict) else None  # type: ignore[return-value]


def explain(exc: ValidationError) -> str:
    """`SENDX_API_RATE_LIMIT='abc': must be limits such as ...`, one per bad variable."""
    lines = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else ""
        field = VARIABLES.get(where, where)
        if field not in FIELDS:
            lines.append(f"{where}: {error['msg']}")
            continue
        problem = _extra(field, "problem") or error["msg"]
        lines.append(f"{FIELDS[field].validation_alias}={error['input']!r}: {problem}")
    return "; ".join(lines)


@functools.lru_cache(maxsize=8)
def _parsed(environment: tuple[tuple[str, str | None], ...]) -> Settings:
    return Settings()


def settings() -> Settings:
    """This process's settings, parsed once per environment: cached by the variables' values,
    so a changed environment (a test's monkeypatch, a command setting one for itself) is
    never answered from a stale copy, and tests need no reset (`_parsed.cache_clear()` is one)."""
    return _parsed(tuple((name, os.environ.get(name)) for name in VARIABLES))


def named_secret(variable_name: str) -> str:
    """A secret whose variable a configuration file names (a webhook endpoint's `secret_env`):
    not a setting of its own, so read here, where every read of the environment is."""
    return os.environ.get(variable_name, "")


def settings_table() -> str:
    """The README's configuration table, one row per variable, in the model's order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in FIELDS.items():
        shown = _extra(name, "shown")
        if shown is None:
            shown = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `{field.validation_alias}` | {shown} | {field.description} |")
    return "\n".join(rows)
