"""The webhook endpoints: which partner, where, with which secret, receiving what.

Read from a TOML file (`$SENDX_WEBHOOKS`, else `$SENDX_DATA_DIR/webhooks.toml`; none: no
webhooks), validated here so a mistake is named at start, not at the first delivery:

    [[endpoint]]
    name = "qk1"                        # names its durable consumers: webhook-qk1-alerts
    org = "QK1"                         # whose alerts and feed it receives
    url = "https://partner.example/sendx"
    secret_env = "SENDX_WEBHOOK_SECRET_QK1"   # the HMAC key's variable (or secret = "...")
    sources = ["alerts", "feed"]
    retry_for_seconds = 86400           # then dead-lettered (default a day)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from contracts.envelope import ORG_CODE_PATTERN
from contracts.feeds import org_alerts
from runtime.bus.outbound import ALERTS_STREAM, FEEDS_STREAM, org_feed
from runtime.settings import named_secret, settings

Source = Literal["alerts", "feed"]


class BadWebhookConfig(ValueError):
    """The webhook file is missing a field, has a wrong one, or names a secret that is unset."""


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    org: str = Field(pattern=ORG_CODE_PATTERN)
    url: HttpUrl
    secret: str | None = Field(default=None, min_length=16)
    secret_env: str | None = None
    sources: tuple[Source, ...] = ("alerts", "feed")
    retry_for_seconds: float = Field(default=86_400.0, gt=0)
    first_retry_seconds: float = Field(default=1.0, gt=0)
    max_retry_seconds: float = Field(default=600.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    ack_wait_seconds: float = Field(default=30.0, ge=1)

    @model_validator(mode="after")
    def _one_secret(self) -> Endpoint:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret or secret_env")
        return self

    def key(self, env: Mapping[str, str] | None = None) -> bytes:
        """The HMAC key; a `secret_env` that is unset or short is an error naming it. `env`
        stands in for the environment (tests)."""
        if self.secret is not None:
            return self.secret.encode()
        name = self.secret_env or ""
        value = named_secret(name) if env is None else env.get(name, "")
        if len(value) < 16:
            raise BadWebhookConfig(
                f"webhook {self.name}: ${self.secret_env} must hold the HMAC secret (at least "
                "16 characters); it is unset or shorter")
        return value.encode()

    def consumer(self, source: Source) -> str:
        return f"webhook-{self.name}-{source}"

    def stream_and_filter(self, source: Source) -> tuple[str, str]:
        return self.stream_and_filter_for(self.org, source)

    @staticmethod
    def stream_and_filter_for(org: str, source: Source) -> tuple[str, str]:
        """The stream and subject filter of one organisation's `source`."""
        if source == "alerts":
            return ALERTS_STREAM, org_alerts(org)
        return FEEDS_STREAM, org_feed(org)


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: tuple[Endpoint, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> WebhookConfig:
        names = [e.name for e in self.endpoint]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"endpoint names must be unique: {', '.join(doubled)}")
        return self

    def named(self, name: str) -> Endpoint:
        for endpoint in self.endpoint:
            if endpoint.name == name:
                return endpoint
        known = ", ".join(e.name for e in self.endpoint) or "none"
        raise BadWebhookConfig(f"no webhook endpoint named {name!r} (configured: {known})")


def webhooks_file(data_dir: Path, given: Path | None = None) -> Path:
    """`SENDX_WEBHOOKS` (`Settings.webhooks`), else the data directory's `webhooks.toml`."""
    given = settings().webhooks if given is None else given
    return given if given else data_dir / "webhooks.toml"


def load_webhooks(path: Path) -> WebhookConfig:
    """The endpoints in `path`; an absent file is no endpoints. Errors name the file and field."""
    if not path.exists():
        return WebhookConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BadWebhookConfig(f"{path}: not valid TOML: {exc}") from None
    try:
        return WebhookConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise BadWebhookConfig(f"{path}: {problems}") from None
