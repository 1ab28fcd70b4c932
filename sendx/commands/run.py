"""`sendx run`: the whole partnership on this machine, until Ctrl-C (what `make run` calls).

Starts the embedded JetStream server, one service process per organisation of the demo
partnership, one projector per read model, the feed process (`sendx feeds`: each partner's feed
under the data-sharing agreement), the alert process (`sendx alerts run`), a webhook delivery per
endpoint of `$SENDX_DATA_DIR/webhooks.toml` (none unless that file exists) and the query
API/dashboard; optionally loads the
demo data; prints the dashboard URL and the access tokens (the same on every run over one data
directory). While it serves, a process that dies is restarted, nats-server included
(`sendx.supervisor`); on Ctrl-C, SIGTERM or a closed terminal it stops every process it
started, by PID, and if it is killed outright the kernel stops them (`runtime.parent_death`).
One run per data directory (`sendx.data_dir_lock`); a port given explicitly that is busy is
refused.

The NATS permissions are rendered from the data-sharing agreement (`--agreement`) as well as
the topology, and follow it: when the file changes and checks, the server's auth config is
rendered again and nats-server reloaded (`AgreementPermissions`), while the feed process adopts
the change itself (`projections.feeds.process`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from contracts.agreements import AgreementError
from contracts.topology import OrgKind
from projections.access.tokens import format_demo_tokens, write_demo_tokens
from projections.catalogue import CATALOGUE
from projections.delivery.config import load_webhooks, webhooks_file
from projections.feeds.process import file_digest
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer, free_port
from runtime.bus.permissions import client_user
from runtime.health import PORT_VARIABLE
from runtime.partnership import DEMO_PARTNERSHIP, load_agreement, organisation
from runtime.settings import settings
from sendx.commands.nats import create_streams
from sendx.commands.sharing import agreement_option
from sendx.data_dir_lock import DataDirLock
from sendx.supervisor import ManagedBus, Supervisor, sendx_command

SERVICE_KINDS: frozenset[OrgKind] = frozenset({OrgKind.LA, OrgKind.ICB, OrgKind.PROVIDER})
DEFAULT_NATS_PORT = 4222
STATUS_FILE = "run.json"
"""In the data directory: each process's PID and restart count, rewritten on every change."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run NATS, every service, projections and the dashboard")
    p.add_argument("--demo", action="store_true", help="load the demo partnership's extracts")
    p.add_argument("--port", type=int, default=None, help="API port (default $PORT or 8000)")
    p.add_argument("--nats-port", type=int, default=None,
                   help=f"NATS port (default {DEFAULT_NATS_PORT}, or a free one if that is busy)")
    p.add_argument("--data-dir", type=Path, default=None, help="default $SENDX_DATA_DIR or .sendx")
    agreement_option(p, ", applied by the feed process; the NATS permissions follow it")
    p.set_defaults(func=run)


class PortInUse(OSError):
    """A port asked for is taken: the run refuses rather than serve somewhere unexpected."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now. SO_REUSEADDR, as nats-server and uvicorn
    set it: connections of a server that just stopped (TIME_WAIT) do not make a port busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def choose_ports(args: argparse.Namespace) -> tuple[int, int]:
    """(API port, NATS port). A port given explicitly (`--port`, `$PORT`, `--nats-port`) that
    is busy is refused, naming it; only the default NATS port moves to a free one, said aloud."""
    api_port = args.port or settings().api_port
    if not port_is_free(api_port):
        raise PortInUse(
            f"--port {api_port}: port {api_port} on 127.0.0.1 is in use; stop what uses it or "
            f"choose another with --port (or PORT)"
        )
    if args.nats_port is not None:
        if not port_is_free(args.nats_port):
            raise PortInUse(
                f"--nats-port {args.nats_port}: port {args.nats_port} on 127.0.0.1 is in use "
                f"(another nats-server, perhaps another `sendx run`); stop it or choose "
                f"another --nats-port"
            )
        return api_port, args.nats_port
    if port_is_free(DEFAULT_NATS_PORT):
        return api_port, DEFAULT_NATS_PORT
    moved = free_port()
    print(f"warning: NATS port {DEFAULT_NATS_PORT} is in use; this run's nats-server listens on "
          f"{moved} instead (pass --nats-port to insist on one)", file=sys.stderr)
    return api_port, moved


def wait_for_http(url: str, supervisor: Supervisor, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


FEEDS_READY = "feeds: agreement"
"""What `sendx feeds` prints once the agreement is in effect (`projections.feeds.process`)."""


def marks(log: Path, marker: str) -> int:
    """How many times `log` (appended to by every run) holds `marker`."""
    return log.read_text(errors="replace").count(marker) if log.exists() else 0


def wait_for_mark(
    log: Path, marker: str, before: int, supervisor: Supervisor, timeout: float = 60.0
) -> None:
    """Until `log` holds `marker` more often than `before` times (this run's process said it)."""
    deadline = time.monotonic() + timeout
    while marks(log, marker) <= before:
        supervisor.check()
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{log.name}: no {marker!r} within {timeout}s")
        time.sleep(0.1)


def stop_on(*signals: signal.Signals) -> None:
    """Each of `signals` stops the run in order (KeyboardInterrupt in the main thread).

    Explicit, because a shell starting us in the background may have set SIGINT to ignored;
    SIGHUP too: a closed terminal stops the run as Ctrl-C does."""
    for sig in signals:
        signal.signal(sig, signal.default_int_handler)


def say(line: str) -> None:
    print(line, flush=True)


class AgreementPermissions:
    """The embedded server's permissions follow the agreement file (a supervisor chore): once
    its digest changed and it checks, `nats-auth.conf` is rendered again and nats-server
    reloaded, so a new recipient's client may read its feed and the feeder publish it. An
    invalid file changes nothing (the feed process refuses it too, naming the problems)."""

    def __init__(
        self, path: Path, data_dir: Path, bus: ManagedBus, note: Callable[[str], None],
        interval: float,
    ) -> None:
        self.path, self._data_dir, self._bus, self._note = path, data_dir, bus, note
        self._interval, self._due = interval, time.monotonic() + interval
        self._seen = file_digest(path)

    def __call__(self) -> None:
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self._interval
        digest = file_digest(self.path)
        if digest == self._seen:
            return
        self._seen = digest
        try:
            agreement = load_agreement(self.path)
        except AgreementError as exc:
            self._note(f"NATS permissions unchanged, the agreement change is refused: {exc}")
            return
        embedded_auth(self._data_dir, agreement=agreement)
        self._bus.reload()
        self._note(f"agreement {agreement.id} ({agreement.digest[:12]}): NATS permissions "
                   f"rendered again (feeds for {', '.join(agreement.recipients) or 'nobody'}), "
                   f"nats-server reloaded")


def run(args: argparse.Namespace) -> int:
    data_dir: Path = (args.data_dir or settings().data_dir).resolve()
    stop_on(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    with DataDirLock(data_dir):
        return run_holding(args, data_dir)


def run_holding(args: argparse.Namespace, data_dir: Path) -> int:
    """The run, once it holds its data directory."""
    api_port, nats_port = choose_ports(args)
    agreement_path: Path = args.agreement.resolve()
    agreement = load_agreement(agreement_path)
    supervisor = Supervisor(data_dir / "logs", status_file=data_dir / STATUS_FILE, say=say)
    server = NatsServer(store_dir=data_dir / "nats", port=nats_port,
                        auth=embedded_auth(data_dir, agreement=agreement))
    try:
        bus = ManagedBus(server)
        supervisor.adopt(bus)
        supervisor.chores.append(AgreementPermissions(
            agreement_path, data_dir, bus, supervisor.note, settings().feeds_agreement_interval))
        asyncio.run(create_streams(server.url, credentials=credentials_for("admin", data_dir)))
        print(f"nats-server pid {server.pid} on {server.url} (data {data_dir / 'nats'}), "
              f"one user per organisation and role: {data_dir / 'nats-credentials.json'}")
        env = {
            "NATS_URL": server.url, "SENDX_DATA_DIR": str(data_dir), "PORT": str(api_port),
            # one port cannot serve ten processes: an inherited SENDX_METRICS_PORT would make all
            # but the first fail to start; the embedded run serves its metrics from the API only
            PORT_VARIABLE: "0",
        }

        def env_as(who: str) -> dict[str, str]:
            """Each process logs in as itself: an organisation's service, projector, dashboard."""
            login = credentials_for(who, data_dir)
            return {
                **env, "SENDX_NATS_USER": login["user"], "SENDX_NATS_PASSWORD": login["password"]
            }

        for org in DEMO_PARTNERSHIP:
            if org.kind in SERVICE_KINDS:
                supervisor.launch(
                    f"service-{org.code}",
                    sendx_command("service", org.kind.value, "--org", org.code),
                    env_as(org.code),
                )
        tokens = write_demo_tokens(data_dir)
        supervisor.launch_projectors([p.name for p in CATALOGUE], env_as("projector"))
        feeds_started = marks(data_dir / "logs" / "feeds.log", FEEDS_READY)
        feeds = supervisor.launch(
            "feeds", sendx_command("feeds", "--agreement", str(agreement_path)), env_as("feeder"))
        supervisor.launch("alerts", sendx_command("alerts", "run"), env_as("alerter"))
        for endpoint in load_webhooks(webhooks_file(data_dir)).endpoint:
            supervisor.launch(
                f"webhook-{endpoint.name}",
                sendx_command("webhooks", "run", "--endpoint", endpoint.name),
                env_as("deliverer"),
            )
        courier = credentials_for("courier", data_dir)
        supervisor.launch("api", sendx_command("api", "--port", str(api_port)), {
            **env_as("dashboard"), "SENDX_COURIER_NATS_USER": courier["user"],
            "SENDX_COURIER_NATS_PASSWORD": courier["password"],
        })
        base = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{base}/healthz", supervisor)
        # the agreement takes effect after what the stream holds when the feed process first
        # records it: it must have done so before the demo publishes anything
        wait_for_mark(feeds.log, FEEDS_READY, feeds_started, supervisor)
        for managed in supervisor.processes:
            print(f"started {managed.name} (pid {managed.pid}), log {managed.log}")
        print(f"watching them: one that dies is restarted (log {supervisor.log_dir / 'run.log'}, "
              f"status {supervisor.status_file})")
        if args.demo:
            load_demo_watched(supervisor, server.url, data_dir)
        print(format_demo_tokens(tokens))
        print(f"\nsend-exchange is serving the dashboard at {base}/  (API docs {base}/docs)")
        print("Press Ctrl-C to stop everything.", flush=True)
        supervisor.wait_forever()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        supervisor.stop_all()
        print("stopped every process started by sendx run", flush=True)
    return 0


def load_demo_watched(supervisor: Supervisor, nats_url: str, data_dir: Path) -> None:
    """Load the demo extracts in a worker thread while the main thread keeps watching (and
    restarting) the processes: a service that dies mid-load is back before the load gives up
    on it. Only the main thread starts processes (see `sendx.supervisor`)."""
    from sendx.demo.loader import load_demo

    failed: list[BaseException] = []

    def load() -> None:
        try:
            load_demo(
                nats_url, data_dir / "demo",
                credentials=lambda code: credentials_for(client_user(organisation(code)), data_dir),
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            failed.append(exc)

    # a daemon thread: a Ctrl-C mid-load stops the run without waiting for the load to give up
    loading = threading.Thread(target=load, name="demo-load", daemon=True)
    loading.start()
    supervisor.wait_until(lambda: not loading.is_alive())
    if failed:
        raise failed[0]
