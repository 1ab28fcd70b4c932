"""Settings from the environment, in one place, so every process is configured the same way.

| variable | default | meaning |
|---|---|---|
| SENDX_DATA_DIR | .sendx | where SQLite stores, NATS data and logs live |
| NATS_URL | nats://127.0.0.1:4222 | the JetStream server |
| SENDX_STORE | sqlite | `sqlite` or `postgres` for every event store and read model |
| SENDX_PARTNERSHIP_KEY | (demo key) | HMAC key for person keys, shared by the partnership |
| SENDX_CIPHER_KEY | (none) | AES key (base64, `sendx deploy cipher-key`): stores at rest |
| POSTGRES_HOST/PORT/USER/PASSWORD/DBNAME | | eventsourcing's own PostgreSQL settings |
| SENDX_READ_MODEL_DSN | | PostgreSQL DSN of the read models (else the POSTGRES_* variables) |
| SENDX_NATS_USER, SENDX_NATS_PASSWORD | | this process's NATS user on a secured server |
| SENDX_NATS_CA | | the partnership CA (PEM path): TLS to NATS, the server verified against it |
| SENDX_NATS_CERT, SENDX_NATS_KEY | | this process's certificate and key, for mutual TLS |

The NATS variables are read where the connection is made, `runtime/bus/connection.py`
(`connect_bus`, `broker_credentials`), so every process — services, relay, projector, API,
CLI — connects the same way; a TLS file that is missing fails at start, naming its variable.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEMO_PARTNERSHIP_KEY = "demo-partnership-key-not-for-production"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("SENDX_DATA_DIR", ".sendx"))
    )
    nats_url: str = field(default_factory=lambda: os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    store: str = field(default_factory=lambda: os.environ.get("SENDX_STORE", "sqlite"))
    partnership_key: bytes = field(
        default_factory=lambda: os.environ.get(
            "SENDX_PARTNERSHIP_KEY", DEMO_PARTNERSHIP_KEY
        ).encode()
    )
    cipher_key: str | None = field(default_factory=lambda: os.environ.get("SENDX_CIPHER_KEY"))

    def __post_init__(self) -> None:
        if self.store not in ("sqlite", "postgres"):
            raise ValueError(f"SENDX_STORE must be 'sqlite' or 'postgres', not {self.store!r}")

    def sqlite_path(self, name: str) -> Path:
        path = self.data_dir / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def warn_if_demo_key(self) -> None:
        if self.partnership_key == DEMO_PARTNERSHIP_KEY.encode():
            print("warning: SENDX_PARTNERSHIP_KEY not set; using the demo key", file=sys.stderr)
