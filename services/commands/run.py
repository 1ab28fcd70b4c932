"""`sendx run`: the whole partnership on this machine, until Ctrl-C (what `make run` calls).

Starts the embedded JetStream server, one service process per organisation of the demo
partnership, one projector per read model and the query API/dashboard; optionally loads the
demo data; prints the dashboard URL; on Ctrl-C stops every process it started, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

from contracts.topology import DEMO_PARTNERSHIP, OrgKind, organisation
from projections.catalogue import CATALOGUE
from projections.tokens import format_demo_tokens, write_demo_tokens
from services.bus.credentials import credentials_for, embedded_auth
from services.bus.nats_server import NatsServer, free_port
from services.bus.permissions import client_user
from services.commands.nats import create_streams
from services.config import Settings
from services.health import PORT_VARIABLE
from services.supervisor import Supervisor, sendx_command

SERVICE_KINDS: frozenset[OrgKind] = frozenset({OrgKind.LA, OrgKind.ICB, OrgKind.PROVIDER})


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run NATS, every service, projections and the dashboard")
    p.add_argument("--demo", action="store_true", help="load the demo partnership's extracts")
    p.add_argument("--port", type=int, default=None, help="API port (default $PORT or 8000)")
    p.add_argument("--nats-port", type=int, default=4222)
    p.add_argument("--data-dir", type=Path, default=None, help="default $SENDX_DATA_DIR or .sendx")
    p.set_defaults(func=run)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


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


def run(args: argparse.Namespace) -> int:
    data_dir: Path = (args.data_dir or Settings().data_dir).resolve()
    api_port = args.port or int(os.environ.get("PORT", "8000"))
    if not port_is_free(api_port):
        raise OSError(f"port {api_port} on 127.0.0.1 is in use: stop what uses it or set PORT")
    nats_port = args.nats_port if port_is_free(args.nats_port) else free_port()
    server = NatsServer(
        store_dir=data_dir / "nats", port=nats_port, auth=embedded_auth(data_dir)
    ).start()
    supervisor = Supervisor(data_dir / "logs")
    # Explicit handlers: a shell starting us in the background may have set SIGINT to ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
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
        supervisor.launch(
            "api", sendx_command("api", "--port", str(api_port)), env_as("dashboard")
        )
        base = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{base}/healthz", supervisor)
        for managed in supervisor.processes:
            print(f"started {managed.name} (pid {managed.pid}), log {managed.log}")
        if args.demo:
            from services.demo_loader import load_demo

            load_demo(
                server.url, data_dir / "demo",
                credentials=lambda code: credentials_for(
                    client_user(organisation(code)), data_dir
                ),
            )
        print(format_demo_tokens(tokens))
        print(f"\nsend-exchange is serving the dashboard at {base}/  (API docs {base}/docs)")
        print("Press Ctrl-C to stop everything.")
        supervisor.wait_forever()
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        supervisor.stop_all()
        server.stop()
        print("stopped every process started by sendx run")
    return 0
