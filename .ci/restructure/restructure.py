#!/usr/bin/env python3
"""Issue 16, items 1 and 2: one-way layers and sub-packages that say what they hold.

Run from the root of a clean send-exchange checkout:

    python /work/wt/restructure/restructure.py            # restructure the tree in place
    python /work/wt/restructure/restructure.py --dry-run  # plan and check, change nothing

Everything is worked out in memory first (moves, rewritten references, code edits, new files);
only when every source exists, no destination does and every anchor is found does it `git mv`
and write. It works from the tables below, not from a list of files, so modules that other
branches added (and that import the old paths) are rewritten too. It refuses to run on a tree
that is already restructured, or that has uncommitted changes.

Layers (checked by import-linter, `[tool.importlinter]` in pyproject.toml, `tests/test_layers.py`):

    contracts  <-  runtime  <-  services | projections (independent)  <-  sendx
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------------------------
# The mapping: old dotted module (or package) -> new dotted module (or package).
# A package entry moves the whole directory, with whatever it holds on the day.
# --------------------------------------------------------------------------------------------
MODULES: dict[str, str] = {
    # contracts stays pure: FastStream's broker leaves with the AsyncAPI renderer.
    "contracts.asyncapi": "sendx.asyncapi",
    # the shared runtime: what services and projections both need
    "services.bus": "runtime.bus",
    "services.config": "runtime.settings",
    "services.health": "runtime.health",
    "services.metrics": "runtime.metrics",
    "services.keystore": "runtime.keystore",
    "services.remembered": "runtime.lru",
    "services.store": "runtime.store",
    "services.stopping": "runtime.stopping",
    # services: domain base classes, the partner-facing endpoint, sharing on the bus
    "services.aggregates": "services.domain.aggregates",
    "services.application": "services.domain.application",
    "services.command": "services.domain.command",
    "services.identity": "services.domain.identity",
    "services.people": "services.domain.people",
    "services.ingest": "services.endpoint.ingest",
    "services.process": "services.endpoint.process",
    "services.client": "services.endpoint.client",
    "services.relay": "services.sharing.relay",
    "services.checkpoint": "services.sharing.checkpoint",
    "services.translation": "services.sharing.translation",
    "services.la.contract": "services.la.translation",
    "services.icb.contract": "services.icb.translation",
    "services.provider.contract": "services.provider.translation",
    # projections: the stream-reading path, access, serving
    "projections.consumer": "projections.reading.consumer",
    "projections.pull": "projections.reading.pull",
    "projections.direct": "projections.reading.direct",
    "projections.batch": "projections.reading.batch",
    "projections.applying": "projections.reading.applying",
    "projections.runner": "projections.reading.runner",
    "projections.store_worker": "projections.reading.store_worker",
    "projections.partitions": "projections.reading.partitions",
    "projections.projection": "projections.reading.projection",
    "projections.rebuild": "projections.reading.rebuild",
    "projections.deadletter": "projections.reading.dead_lettering",
    "projections.deadletters": "projections.deadletter_queue",
    "projections.access": "projections.access.policy",
    "projections.access_log": "projections.access.log",
    "projections.mentions": "projections.access.mentions",
    "projections.tokens": "projections.access.tokens",
    "projections.api": "projections.serving.api",
    "projections.live": "projections.serving.live",
    "projections.serve": "projections.serving.processes",
    # the sendx shell: CLI, `sendx run`, deployment rendering, demo generators and loader
    "services.cli": "sendx.cli",
    "services.commands": "sendx.commands",
    "projections.commands": "sendx.commands.projections",
    "services.supervisor": "sendx.supervisor",
    "services.deployment": "sendx.deployment.processes",
    "services.compose": "sendx.deployment.compose",
    "services.manifests": "sendx.deployment.manifests",
    "services.demo": "sendx.demo.children",
    "services.la.demo": "sendx.demo.la",
    "services.icb.demo": "sendx.demo.icb",
    "services.provider.demo": "sendx.demo.provider",
    "services.demo_loader": "sendx.demo.loader",
}

# Modules the other branches add (moved only where they exist on the day): where they go.
OPTIONAL: dict[str, str] = {
    "contracts.ownership": "runtime.ownership",  # its rule defaults to the demo partnership
    "services.private_file": "runtime.private_file",  # used by runtime.bus and projections
    "services.progress": "runtime.progress",  # used by the client, rebuilds, audit, the CLI
    "services.parent_death": "runtime.parent_death",  # used by runtime.bus.nats_server
    "services.extracts": "services.endpoint.extracts",
    "services.data_dir_lock": "sendx.data_dir_lock",  # one `sendx run` per data directory
    "services.command_reference": "sendx.command_reference",  # renders docs/partners.md
    "services.quarantine": "services.sharing.quarantine",  # events the relay could not share
    "projections.rate_limit": "projections.access.rate_limit",  # per-token API rate limit
    "projections.api_contract": "projections.serving.api_contract",  # OpenAPI kept exact
    "tests.services.test_extracts": "tests.services.endpoint.test_extracts",
    "tests.services.test_relay_quarantine": "tests.services.sharing.test_relay_quarantine",
    "tests.services.test_quarantine_service": "tests.services.sharing.test_quarantine_service",
    "tests.projections.test_api_contract": "tests.projections.serving.test_api_contract",
    "tests.projections.test_api_limits": "tests.projections.serving.test_api_limits",
    "tests.contracts.asyncapi-spec": "tests.sendx.asyncapi-spec",  # beside test_asyncapi.py
}


def include_optional(root: Path) -> None:
    """Add the OPTIONAL entries whose source exists in this checkout to MODULES / TESTS."""
    for old, new in OPTIONAL.items():
        base = root / Path(*old.split("."))
        if base.with_suffix(".py").exists() or base.is_dir():
            (TESTS if old.startswith("tests.") else MODULES)[old] = new


# Names that leave their module (the code edits below move their definitions):
# (old module, name) -> new module. Imports of them are split accordingly, in every file.
NAMES: dict[tuple[str, str], str] = {
    ("contracts.topology", "DEMO_PARTNERSHIP"): "runtime.partnership",
    ("contracts.topology", "organisation"): "runtime.partnership",
    ("services.metrics", "CountedRelay"): "services.sharing.counted_relay",
    **{
        ("services.commands.deploy", name): "sendx.deployment.nats"
        for name in (
            "NATS_DIR", "CLIENT_PORT", "CLUSTER_PORT", "HTTP_PORT", "PRODUCTION_STORE_DIR",
            "cluster_nodes", "write_nats_config",
        )
    },
}

# Tests mirror the source tree (moved within the test tree that holds their fixtures).
TESTS: dict[str, str] = {
    "tests.bus": "tests.runtime.bus",
    "tests.deploy": "tests.sendx.deployment",
    "tests.contracts.test_asyncapi": "tests.sendx.test_asyncapi",
    "tests.services.test_timescales": "tests.contracts.test_timescales",
    "tests.services.la.test_contract": "tests.services.la.test_translation",
    "tests.services.test_relay": "tests.services.sharing.test_relay",
    "tests.services.test_relay_pipeline": "tests.services.sharing.test_relay_pipeline",
    "tests.services.test_identity": "tests.services.domain.test_identity",
    "tests.services.test_execute_all": "tests.services.endpoint.test_execute_all",
    "tests.services.test_process": "tests.services.endpoint.test_process",
    "tests.projections.test_pull": "tests.projections.reading.test_pull",
    "tests.projections.test_direct": "tests.projections.reading.test_direct",
    "tests.projections.test_runner": "tests.projections.reading.test_runner",
    "tests.projections.test_runner_batches": "tests.projections.reading.test_runner_batches",
    "tests.projections.test_store_worker": "tests.projections.reading.test_store_worker",
    "tests.projections.test_partitions": "tests.projections.reading.test_partitions",
    "tests.projections.test_partitioned_progress":
        "tests.projections.reading.test_partitioned_progress",
    "tests.projections.test_order_and_redelivery":
        "tests.projections.reading.test_order_and_redelivery",
    "tests.projections.test_decoded_history_cache":
        "tests.projections.reading.test_decoded_history_cache",
    "tests.projections.test_rebuild_all": "tests.projections.reading.test_rebuild_all",
    "tests.projections.test_rebuild_command": "tests.projections.reading.test_rebuild_command",
    "tests.projections.test_access": "tests.projections.access.test_access",
    "tests.projections.test_api": "tests.projections.serving.test_api",
    "tests.projections.test_metrics": "tests.projections.serving.test_metrics",
}

# Every sub-package, with what it holds: the README's layout table is generated from this
# (and the new packages' __init__.py docstrings, for those the script creates).
PACKAGES: dict[str, str] = {
    "contracts": "The cross-agency data standard: envelope, one module per event family, "
    "registry and upcasters, subjects, codec, sealing, timescales, who publishes what. "
    "Pure: no I/O, no framework, no demo data.",
    "runtime": "What services and projections share at run time: settings, the event-store "
    "selection, the person key store, health and metrics endpoints, stopping work within "
    "bounded time, a bounded LRU, and the partnership the deployment serves.",
    "runtime.bus": "NATS JetStream plumbing: the connection, the streams, users and "
    "permissions, credentials, a real `nats-server` and a 3-node cluster on loopback.",
    "services": "One eventsourcing application per organisation kind; never imports "
    "`projections`.",
    "services.domain": "The building blocks every kind's domain model shares: aggregates, "
    "the base command, the base application, people, pseudonymous identity.",
    "services.endpoint": "The partner-facing side of a service: parsing and validating "
    "extracts, the service process (store, relay, command endpoint), the Python client.",
    "services.sharing": "Sharing what a service stored on the bus: the relay, its checkpoint, "
    "the translation of stored events into contract events.",
    "services.la": "The local authority service: commands, domain, application, people, "
    "ingest, translation to contract events.",
    "services.icb": "The ICB and NHS trust service: commands, pathways, people, application, "
    "ingest, translation.",
    "services.provider": "The school, college and AP provider service: commands, placements, "
    "people, application, ingest, translation.",
    "projections": "The read models built from the shared history; never imports `services`.",
    "projections.reading": "The stream-reading path, written once for every read model: the "
    "durable consumer and its settings, pulling batches, batched direct gets, decoding a batch "
    "(dead-lettering what cannot be decoded), applying it to a store (in a worker process "
    "where there are cores), the live runner, partitioned workers, rebuilds.",
    "projections.access": "Who may read what from the query API: the access policy, tokens, "
    "the person-level access log, the index of which organisations mention a person.",
    "projections.serving": "The read models served: the query API, the live feed (NATS and "
    "Server-Sent Events), running projectors and the API as processes.",
    "projections.readmodel": "The store kit every read model uses: the database, tables, "
    "derived rows, writes, the decoded-history heap.",
    "projections.dataset": "The shared dataset: pure fold, facts, counting, indicators, "
    "published figures, queries.",
    "projections.tracker": "The case tracker: pure fold, milestones, status, queries.",
    "projections.audit": "Audit tools: replay as of a moment, verify a rebuild, tamper "
    "evidence, table digests, person histories.",
    "projections.web": "The dashboard: routes, sections, tiles, charts, templates and static "
    "files.",
    "sendx": "The shell: the `sendx` CLI, the `sendx run` supervisor, the AsyncAPI renderer; "
    "may import every layer, nothing imports it.",
    "sendx.commands": "One module per `sendx` command group (thin: parse, call one function, "
    "print).",
    "sendx.deployment": "Deployment rendering from the topology: the production processes, "
    "NATS configs and cluster nodes, Docker Compose, Kubernetes.",
    "sendx.demo": "The demo: one set of synthetic children, each kind's extract generators, "
    "and the loader `sendx run --demo` uses.",
}

LAYERS_README = """\
## Layout

Imports run one way, checked by `lint-imports` (`[tool.importlinter]` in `pyproject.toml`,
run by `tests/test_layers.py`):

```
contracts  <-  runtime  <-  services | projections  <-  sendx
  (pure)      (shared)     (side by side, never       (the shell: CLI, `sendx run`,
                            each other)                deployment rendering, demo)
```

`contracts/` imports no framework and holds no demo data; `runtime/` is what services and
projections share at run time; `services/` and `projections/` never import each other;
`sendx/` is the shell around them, and nothing imports it.

**Reading the stream** (`projections/reading/`): a read model is fed by one path, written
once. `consumer.py` declares the durable pull consumer, `pull.py` fetches batches from it and
`direct.py` reads ranges with batched direct gets (for rebuilds); `batch.py` turns one fetched
batch into events, `dead_lettering.py` keeps what cannot be decoded on SEND_DEADLETTER with the
reason; `applying.py` applies a decoded batch to a store in one transaction, in a worker process
of its own where there are cores (`store_worker.py`); `runner.py` is the live loop,
`partitions.py` splits a projection across N workers, `rebuild.py` replays the history, and
`projection.py` says what the runner needs from a read model.

| package | holds | modules |
|---|---|---|
"""


# --------------------------------------------------------------------------------------------
# The code edits that break the import cycles. Each is anchored on text and fails loudly,
# naming the file and the anchor, when the anchor is not there. Paths are the new paths and the
# text is the text after the references were rewritten.
# --------------------------------------------------------------------------------------------
class Refused(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"restructure: {message}")


@dataclass
class Tree:
    """The checkout's text files as they will be: new path -> content."""

    files: dict[str, str]
    warnings: list[str]

    def text(self, path: str) -> str:
        if path not in self.files:
            raise Refused(f"edit: {path} is not in the tree (was it renamed by a merged branch?)")
        return self.files[path]

    def replace(self, path: str, anchor: str, new: str, *, required: bool = True) -> None:
        text = self.text(path)
        count = text.count(anchor)
        if count != 1:
            problem = f"{path}: anchor {anchor!r} found {count} times (expected once)"
            if required:
                raise Refused(f"edit: {problem}")
            self.warnings.append(f"skipped an optional edit: {problem}")
            return
        self.files[path] = text.replace(anchor, new)

    def cut(self, path: str, start: str, end: str | None) -> str:
        """Remove and return the text from `start` up to (not including) `end` (None: EOF)."""
        text = self.text(path)
        if text.count(start) != 1:
            raise Refused(f"edit: {path}: anchor {start!r} found {text.count(start)} times")
        i = text.index(start)
        j = len(text) if end is None else text.find(end, i)
        if j < 0:
            raise Refused(f"edit: {path}: end anchor {end!r} not found after {start!r}")
        self.files[path] = text[:i] + text[j:]
        return text[i:j]

    def cut_definitions(self, path: str, names: tuple[str, ...]) -> str:
        """Remove the top-level definitions of `names` (assignments, functions, classes, with
        their decorators) and return their source, in file order. Fails naming the file and
        each name it cannot find."""
        text = self.text(path)
        module = ast.parse(text, filename=path)
        spans: list[tuple[int, int]] = []
        found: set[str] = set()
        for node in module.body:
            defined: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    elements = target.elts if isinstance(target, ast.Tuple) else [target]
                    defined += [e.id for e in elements if isinstance(e, ast.Name)]
            if not set(defined) & set(names):
                continue
            if not set(defined) <= set(names):
                raise Refused(f"edit: {path}: {defined} are defined together; move them all")
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            spans.append((first - 1, node.end_lineno or node.lineno))
            found |= set(defined)
        missing = [n for n in names if n not in found]
        if missing:
            raise Refused(f"edit: {path}: no top-level definition of {', '.join(missing)}")
        lines = text.splitlines(keepends=True)
        blocks = ["".join(lines[a:b]).rstrip("\n") + "\n" for a, b in spans]
        for a, b in reversed(spans):
            del lines[a:b]
        self.files[path] = re.sub(r"\n{4,}", "\n\n\n", "".join(lines)).rstrip("\n") + "\n"
        out, previous_compound = "", False
        for block in blocks:
            compound = block.startswith(("def ", "async def ", "class ", "@"))
            if out and (compound or previous_compound):
                out += "\n\n"
            out += block
            previous_compound = compound
        return out

    def add_import(self, path: str, statement: str) -> None:
        """Add an import after the module's last top-level import (ruff sorts it later)."""
        text = self.text(path)
        imports = [
            node for node in ast.parse(text, filename=path).body
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
        if not imports:
            raise Refused(f"edit: {path}: no top-level import to put {statement!r} after")
        lines = text.splitlines(keepends=True)
        at = imports[-1].end_lineno or imports[-1].lineno
        lines.insert(at, statement + "\n")
        self.files[path] = "".join(lines)

    def create(self, path: str, content: str) -> None:
        if path in self.files:
            raise Refused(f"create: {path} already exists")
        self.files[path] = content


PARTNERSHIP_HEADER = '''\
"""The partnership a deployment serves: the demo one (Leicester, Leicestershire and Rutland)
until a partnership of its own is configured, and looking an organisation up in it.

Data, not the standard: `contracts/topology.py` says what each kind of organisation may publish;
this module says which organisations there are. Runtime, services and projections take the
partnership as an argument, defaulting to this one.
"""

from __future__ import annotations

from contracts.topology import Organisation, OrgKind

'''

NATS_HEADER = '''\
"""The production NATS configuration rendered from the topology: auth.conf, copies of
production.conf and tls.conf, and one cluster/<node>.conf per host (`sendx deploy nats-config`).

Here rather than in the command module so that the Compose and Kubernetes renderers use the
same cluster nodes without importing the CLI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from runtime.bus.cluster import NodeAddress, render_node
from runtime.bus.credentials import production_auth
from runtime.bus.nats_server import DEPLOY_DIR

'''

COUNTED_RELAY_HEADER = '''\
"""The relay of a service process, counting the events JetStream acknowledged.

Metrics stay out of `relay.py`, and the relay out of the shared runtime's metrics module.
"""

from __future__ import annotations

from typing import Any

from runtime.metrics import ServiceMetrics
from services.sharing.relay import Relay


'''

PUBLISHED_PROTOCOL = '''\
class Published(Protocol):
    """What `ServiceMetrics.monitor` reads from the relay: how far it has published."""

    @property
    def position(self) -> Any: ...


'''

IMPORTLINTER = '''
[tool.importlinter]
root_packages = ["contracts", "runtime", "services", "projections", "sendx"]
include_external_packages = true

[[tool.importlinter.contracts]]
name = "One-way layers: contracts <- runtime <- services | projections <- sendx"
type = "layers"
layers = ["sendx", "services | projections", "runtime", "contracts"]

[[tool.importlinter.contracts]]
name = "contracts is pure: no I/O, no framework"
type = "forbidden"
source_modules = ["contracts"]
forbidden_modules = [
    "faststream", "nats", "eventsourcing", "fastapi", "uvicorn", "httpx", "prometheus_client",
    "yaml", "bcrypt", "psycopg",
]
'''

TEST_LAYERS = '''\
"""Imports run one way (contracts <- runtime <- services | projections <- sendx): import-linter
checks the contracts in pyproject.toml against the whole source tree, and a deliberate import
against the direction, in a copy of the tree, is refused with the offending line named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "runtime", "services", "projections", "sendx")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("lint-imports")
    if not executable.exists():
        pytest.fail(f"lint-imports is not installed beside {sys.executable} (dev extra)")
    return subprocess.run(
        [str(executable), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PATH": str(executable.parent), "PYTHONPATH": str(cwd)},
    )


def test_every_import_runs_the_way_of_the_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def copy_of_the_tree(target: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return target


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("contracts/envelope.py", "runtime.settings"),
        ("runtime/health.py", "services.domain.aggregates"),
        ("projections/suppression.py", "services.domain.identity"),
        ("services/domain/identity.py", "projections.suppression"),
        ("services/endpoint/process.py", "sendx.cli"),
        ("contracts/envelope.py", "faststream"),
    ],
)
def test_an_import_against_the_direction_is_refused(
    tmp_path: Path, importer: str, imported: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    module = tree / importer
    module.write_text(module.read_text() + f"\\nimport {imported}  # against the direction\\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    importer_module = importer.removesuffix(".py").replace("/", ".")
    assert f"{importer_module} -> {imported}" in result.stdout, result.stdout
'''


def code_edits(tree: Tree) -> None:
    # 1. DEMO_PARTNERSHIP leaves contracts (no demo data there) for the runtime's partnership.
    topology = "contracts/topology.py"
    block = tree.cut_definitions(topology, ("DEMO_PARTNERSHIP", "organisation"))
    tree.replace(
        topology,
        "Who publishes what: organisation kinds, the event types each may publish, the demo "
        "partnership.",
        "Who publishes what: organisation kinds and the event types each may publish.\n\n"
        "Which organisations a partnership holds (the demo one by default) is data:\n"
        "`runtime/partnership.py`.",
    )
    tree.create("runtime/partnership.py", PARTNERSHIP_HEADER + "\n" + block)

    # 2. The cycle commands/deploy -> manifests -> compose -> commands/deploy: the cluster nodes
    #    and the NATS config rendering move to sendx/deployment/nats.py, which both use.
    deploy = "sendx/commands/deploy.py"
    moved = tree.cut_definitions(deploy, tuple(
        name for (module, name), target in NAMES.items() if target == "sendx.deployment.nats"
    ))
    tree.create("sendx/deployment/nats.py", NATS_HEADER + moved)
    tree.add_import(deploy, "from sendx.deployment.nats import cluster_nodes, write_nats_config")
    tree.replace(
        deploy, "from sendx.deployment.manifests import write_deploy_files  # imports this "
        "module: not at the top\n",
        "from sendx.deployment.manifests import write_deploy_files\n", required=False,
    )

    # 3. The shared metrics no longer import the relay: CountedRelay moves to services.
    metrics = "runtime/metrics.py"
    counted = tree.cut_definitions(metrics, ("CountedRelay",))
    tree.replace(metrics, "from services.sharing.relay import Relay\n", "")
    tree.replace(
        metrics, "relay: Callable[[], Relay | None],", "relay: Callable[[], Published | None],"
    )
    tree.replace(metrics, "class ServiceMetrics:", PUBLISHED_PROTOCOL + "class ServiceMetrics:")
    tree.create("services/sharing/counted_relay.py", COUNTED_RELAY_HEADER + counted)

    # 4. Packaging: the two new top-level packages ship, import-linter is a dev dependency.
    pyproject = "pyproject.toml"
    tree.replace(pyproject, '"projections*"]', '"projections*", "runtime*", "sendx*"]')
    tree.replace(pyproject, "dev = [\n", 'dev = [\n    "import-linter>=2.1",\n')
    linter = IMPORTLINTER
    permissions = tree.files.get("runtime/bus/permissions.py", "")
    if re.search(r"^\s*from projections[.\w]* import", permissions, re.MULTILINE):
        # A merged branch made the bus permissions read the projection catalogue (lazily):
        # a real upward import. Listed as the one known exception rather than hidden.
        tree.warnings.append(
            "runtime/bus/permissions.py imports projections (own_durables): kept as a listed "
            "exception (ignore_imports) in [tool.importlinter]; pass the durable names in instead"
        )
        linter = linter.replace(
            'layers = ["sendx", "services | projections", "runtime", "contracts"]\n',
            'layers = ["sendx", "services | projections", "runtime", "contracts"]\n'
            "# Known exception, to remove: the projector's own durables read from the catalogue.\n"
            'ignore_imports = ["runtime.bus.permissions -> projections.**"]\n',
        )
    tree.files[pyproject] = tree.files[pyproject].rstrip("\n") + "\n" + linter
    tree.replace(
        "deploy/Dockerfile", "COPY projections ./projections\n",
        "COPY projections ./projections\nCOPY runtime ./runtime\nCOPY sendx ./sendx\n",
    )
    tree.create("tests/test_layers.py", TEST_LAYERS)

    # 5. Package docstrings that listed what has moved.
    tree.replace(
        "services/__init__.py",
        "and the plumbing they share once:\nbus, relay, identity, stores, ingestion, CLI.",
        "and what they share once:\ndomain building blocks (`domain/`), the partner-facing "
        "endpoint (`endpoint/`),\nsharing on the bus (`sharing/`).",
        required=False,
    )
    tree.replace(
        "projections/__init__.py",
        "`runner.py` is the one JetStream consumer loop",
        "`reading/runner.py` is the one JetStream consumer loop",
        required=False,
    )
    tree.replace(
        "projections/__init__.py", "`api.py` serves the queries over HTTP.",
        "`serving/api.py` serves the queries over HTTP.", required=False,
    )


def readme_edits(tree: Tree) -> None:
    readme = "README.md"
    rows = []
    for package, holds in PACKAGES.items():
        folder = Path(*package.split("."))
        modules = sorted(
            Path(p).stem for p in tree.files
            if p.endswith(".py") and Path(p).parent == folder and not p.endswith("__init__.py")
        )
        subpackages = sorted(
            q.split(".")[-1] for q in PACKAGES if q.rsplit(".", 1)[0] == package and q != package
        )
        listed = ", ".join([*(f"`{m}`" for m in modules), *(f"`{s}/`" for s in subpackages)])
        rows.append(f"| `{folder.as_posix()}/` | {holds} | {listed} |")
    section = LAYERS_README + "\n".join(rows) + "\n\n"
    text = tree.text(readme)
    for heading in ("## The data standard", "## Using it", "## Configuration"):
        if f"\n{heading}\n" in text:
            tree.files[readme] = text.replace(f"\n{heading}\n", f"\n{section}{heading}\n", 1)
            break
    else:
        raise Refused(f"edit: {readme}: none of the headings to put the layout before was found")
    tree.replace(
        readme, "identity (NHS number → pseudonym), process runner, CLI. |",
        "identity (NHS number → pseudonym), the service process. |", required=False,
    )
    tree.replace(
        readme,
        "| `deploy/` |",
        "| `runtime/` | what services and projections share at run time: the bus, settings, "
        "stores, key store, health, metrics, the partnership. |\n"
        "| `sendx/` | the shell: CLI, `sendx run`, deployment rendering, the demo. |\n"
        "| `deploy/` |",
        required=False,
    )
    tree.replace(
        readme, "validated), `ruff`.",
        "validated), `ruff`, `import-linter`\n(the one-way layers, `tests/test_layers.py`).",
        required=False,
    )


# --------------------------------------------------------------------------------------------
# Rewriting references
# --------------------------------------------------------------------------------------------
def module_path(dotted: str, root: Path) -> tuple[str, bool]:
    """(path, is_package) of a dotted module in the checkout."""
    base = Path(*dotted.split("."))
    if (root / base / "__init__.py").exists() or (root / base).is_dir():
        return base.as_posix(), True
    return base.as_posix() + ".py", False


def alternation(names: list[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


class Rewriter:
    def __init__(self, root: Path) -> None:
        self.dotted: dict[str, str] = {**MODULES, **TESTS}
        for (module, name), target in NAMES.items():
            self.dotted[f"{module}.{name}"] = f"{target}.{name}"
        self.paths: dict[str, str] = {}
        for old, new in {**MODULES, **TESTS}.items():
            path, is_package = module_path(old, root)
            new_path = Path(*new.split(".")).as_posix()
            if is_package:
                self.paths[path] = new_path
            else:
                self.paths[path.removesuffix(".py")] = new_path
        self.package_paths = {
            module_path(old, root)[0] for old in {**MODULES, **TESTS}
            if module_path(old, root)[1]
        }
        dotted = rf"(?<![\w.])(?P<dot>{alternation(list(self.dotted))})(?![\w])"
        path_alts = []
        for old in sorted(self.paths, key=len, reverse=True):
            tail = r"(?![\w-])" if old in self.package_paths else r"(?=\.py\b)"
            path_alts.append(re.escape(old) + tail)
        path = rf"(?<![\w.-])(?<!\w/)(?P<path>{'|'.join(path_alts)})"
        from_import = (
            r"^(?P<indent>[ \t]*)from[ \t]+(?P<fmod>[A-Za-z_][\w.]*)[ \t]+import[ \t]+"
            r"(?:\((?P<pnames>[^)]*)\)(?P<pcomment>[ \t]*#[^\n]*)?|(?P<names>[^\n#(]*[^\s#(])"
            r"(?P<comment>[ \t]*#[^\n]*)?)"
        )
        self.py = re.compile(f"{from_import}|{dotted}|{path}", re.M)
        self.text = re.compile(f"{dotted}|{path}", re.M)

    def module(self, dotted: str) -> str:
        """The new name of a dotted module (longest mapped prefix)."""
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in self.dotted:
                return ".".join([self.dotted[head], *parts[i:]])
        return dotted

    def _path(self, old: str) -> str:
        return self.paths[old]

    def _from_import(self, m: re.Match[str]) -> str:
        indent, module = m["indent"], m["fmod"]
        raw = m["pnames"] if m["pnames"] is not None else m["names"]
        comment = (m["pcomment"] if m["pnames"] is not None else m["comment"]) or ""
        if module == "__future__" or raw.strip() == "*":
            return m[0]
        names = []
        for line in raw.splitlines():
            line = line.split("#", 1)[0]
            names.extend(n.strip() for n in line.split(",") if n.strip())
        groups: dict[str, list[str]] = {}
        new_module = self.module(module)
        for item in names:
            name, _, alias = (p.strip() for p in item.partition(" as "))
            full = f"{module}.{name}"
            if full in self.dotted and (module, name) not in NAMES:  # a moved (sub)module
                target = self.dotted[full]
                parent, leaf = target.rsplit(".", 1)
                bound = alias or name
                imported = leaf if leaf == bound else f"{leaf} as {bound}"
                groups.setdefault(parent, []).append(imported)
            elif (module, name) in NAMES:
                groups.setdefault(NAMES[module, name], []).append(item)
            else:
                groups.setdefault(new_module, []).append(item)
        start, end = m.start("fmod") - m.start(), m.end("fmod") - m.start()
        rest = self.text.sub(self._sub, m[0][end:])  # comments may name old modules too
        if list(groups) == [module]:
            return m[0][:end] + rest
        if list(groups) == [new_module] and groups[new_module] == names:
            return m[0][:start] + new_module + rest
        comment = self.text.sub(self._sub, comment)
        out = []
        for i, (target, items) in enumerate(groups.items()):
            tail = comment if i == 0 else ""
            line = f"{indent}from {target} import {', '.join(items)}{tail}"
            if len(line) > 100:
                inner = "".join(f"{indent}    {item},\n" for item in items)
                line = f"{indent}from {target} import ({tail}\n{inner}{indent})"
            out.append(line)
        return "\n".join(out)

    def _sub(self, m: re.Match[str]) -> str:
        if m.groupdict().get("fmod") is not None:
            return self._from_import(m)
        if m["dot"] is not None:
            return self.dotted[m["dot"]]
        return self._path(m["path"])

    def rewrite(self, path: str, text: str) -> str:
        pattern = self.py if path.endswith(".py") else self.text
        return pattern.sub(self._sub, text)


LINE_LENGTH = 100  # the project's ruff line-length


def _wrappable_lines(text: str) -> dict[int, str]:
    """Line number -> the indentation its overflow continues with, for the lines of docstrings
    (standalone triple-quoted strings) and of whole-line comments: prose, safe to re-wrap."""
    lines = text.splitlines()
    result: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return result
    starts = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT}
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.COMMENT and not lines[tok.start[0] - 1][: tok.start[1]].strip():
            result[tok.start[0]] = " " * tok.start[1] + "# "
        if tok.type != tokenize.STRING or '"""' not in tok.string[:4]:
            continue
        before = next((t for t in reversed(tokens[:i]) if t.type != tokenize.COMMENT), None)
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if (before is None or before.type in starts) and (
            after is None or after.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
        ):
            for n in range(tok.start[0], tok.end[0] + 1):
                line = lines[n - 1]
                own = line[: len(line) - len(line.lstrip())]
                result[n] = " " * tok.start[1] if n == tok.start[0] else own
    return result


def rewrap(path: str, text: str, warnings: list[str]) -> str:
    """Re-wrap the prose lines that the longer names pushed past the line length: the overflow
    words move to the start of the next line of the same paragraph (or onto a new line)."""
    for _ in range(200):
        wrappable = _wrappable_lines(text)
        lines = text.split("\n")
        long = [n for n in sorted(wrappable) if len(lines[n - 1]) > LINE_LENGTH]
        if not long:
            return text
        n = long[0]
        line, indent = lines[n - 1], wrappable[n]
        cut = line.rfind(" ", len(indent) + 1, LINE_LENGTH + 1)
        if cut <= len(line) - len(line.lstrip()):
            warnings.append(f"{path}:{n}: a line longer than {LINE_LENGTH} is left as it is")
            return text
        head, overflow = line[:cut].rstrip(), line[cut + 1:]
        nxt = lines[n] if n < len(lines) else ""
        comment = indent.endswith("# ")
        body = nxt.strip().removeprefix("#").strip() if comment else nxt.strip()
        joinable = (
            n + 1 in wrappable and len(wrappable[n + 1]) >= len(indent) and body
            and not body.startswith(("- ", "* ", "```", '"""', ">>>", "|"))
            and (nxt.lstrip().startswith("#") == comment)
        )
        if joinable:
            lines[n - 1: n + 1] = [head, f"{wrappable[n + 1]}{overflow} {body}"]
        else:
            bullet = line[len(indent):].startswith(("- ", "* ")) and not comment
            lines[n - 1: n] = [head, f"{indent}{'  ' if bullet else ''}{overflow}"]
        text = "\n".join(lines)
    warnings.append(f"{path}: gave up re-wrapping long lines")
    return text


TEXT_SUFFIXES = {
    ".py", ".toml", ".md", ".cfg", ".ini", ".yaml", ".yml", ".conf", ".sh", ".txt", ".example",
    ".html", ".js", ".css", ".dockerignore", ".json",
}
TEXT_NAMES = {"Makefile", "Dockerfile", "run", ".gitignore"}


def is_text(path: str) -> bool:
    p = Path(path)
    return (
        p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES or path.startswith((".ci/", "deploy/"))
    )


# --------------------------------------------------------------------------------------------
# Planning and applying
# --------------------------------------------------------------------------------------------
def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def preflight(root: Path, *, allow_dirty: bool) -> None:
    if not (root / ".git").exists() or not (root / "pyproject.toml").exists():
        raise Refused(f"run it from the root of a send-exchange checkout (not {root})")
    if 'name = "send-exchange"' not in (root / "pyproject.toml").read_text():
        raise Refused(f"{root}/pyproject.toml is not send-exchange's")
    done = [p for p in ("runtime/__init__.py", "sendx/__init__.py") if (root / p).exists()]
    if done or "[tool.importlinter]" in (root / "pyproject.toml").read_text():
        raise Refused(
            "this tree is already restructured (found "
            f"{', '.join(done) or '[tool.importlinter] in pyproject.toml'}); nothing to do"
        )
    if not allow_dirty and git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise Refused(
            "the work tree has uncommitted changes: commit or stash them first (a failed run "
            "is then undone with `git reset --hard && git clean -fd`)"
        )
    missing, taken = [], []
    for old, new in {**MODULES, **TESTS}.items():
        path, _ = module_path(old, root)
        if not (root / path).exists():
            missing.append(f"{old} ({path})")
        new_path = Path(*new.split("."))
        if (root / new_path).exists() or (root / new_path.with_suffix(".py")).exists():
            taken.append(f"{new} ({new_path})")
    if missing:
        raise Refused(
            "mapping sources not found (renamed or removed by a merged branch? update MODULES "
            "or TESTS at the top of the script): " + "; ".join(missing)
        )
    if taken:
        raise Refused("mapping destinations already exist: " + "; ".join(taken))


def plan(root: Path) -> tuple[list[tuple[str, str]], Tree]:
    tracked = [p for p in git(root, "ls-files", "-z").split("\0")
               if p and not p.startswith(".ci/restructure/")]  # not itself: its mapping
    rewriter = Rewriter(root)
    moves: list[tuple[str, str]] = []
    for old, new in {**MODULES, **TESTS}.items():
        path, is_package = module_path(old, root)
        new_path = Path(*new.split(".")).as_posix() + ("" if is_package else ".py")
        moves.append((path, new_path))

    def moved(path: str) -> str:
        for old, new in moves:
            if path == old:
                return new
            if path.startswith(old + "/"):
                return new + path[len(old):]
        return path

    tree = Tree({}, [])
    original: dict[str, str] = {}
    for path in tracked:
        if not (root / path).is_file() or not is_text(path):
            continue
        try:
            text = (root / path).read_text()
        except UnicodeDecodeError:
            continue
        original[moved(path)] = text
        tree.files[moved(path)] = rewriter.rewrite(path, text)
    code_edits(tree)
    new_packages = {
        package for _, new in moves for package in _parents(new)
    } | {p.replace(".", "/") for p in PACKAGES}
    for package in sorted(new_packages):
        init = f"{package}/__init__.py"
        if package.startswith("tests"):
            continue
        if init not in tree.files:
            dotted = package.replace("/", ".")
            description = PACKAGES.get(dotted)
            if description is None:
                raise Refused(f"new package {dotted} has no description in PACKAGES")
            tree.create(init, f'"""{_wrap(description)}"""\n')
    readme_edits(tree)
    for path, text in tree.files.items():
        if path.endswith(".py") and text != original.get(path):
            tree.files[path] = rewrap(path, text, tree.warnings)
    return moves, tree


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _wrap(text: str, width: int = 96) -> str:
    lines, line = [], ""
    for word in re.findall(r"(?:`[^`]*`|\S)+", text):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


def apply(root: Path, moves: list[tuple[str, str]], tree: Tree) -> list[str]:
    for old, new in moves:
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        git(root, "mv", old, new)
    changed = []
    for path, content in tree.files.items():
        target = root / path
        if target.exists() and target.read_text() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        changed.append(path)
    git(root, "add", "--", *changed)
    return changed


def tidy_imports(root: Path, changed: list[str]) -> None:
    """Sort the rewritten imports and drop the ones an edit left unused (ruff, if installed)."""
    python = [p for p in changed if p.endswith(".py")]
    found = [
        str(c) for c in (
            os.environ.get("RUFF"), shutil.which("ruff"), Path(sys.executable).with_name("ruff"),
            root / ".venv" / "bin" / "ruff",
        ) if c and Path(c).exists()
    ]
    if not found:
        print("restructure: warning: ruff not found (set RUFF=/path/to/ruff): run "
              "`ruff check --select I --fix .` to sort the rewritten imports", file=sys.stderr)
        return
    ruff = [found[0], "check", "--quiet", "--fix", "--exit-zero"]
    try:
        subprocess.run([*ruff, "--select", "I", *python], cwd=root, check=True)
        edited = ["sendx/commands/deploy.py", "runtime/metrics.py", "contracts/topology.py"]
        subprocess.run([*ruff, "--select", "F401", *edited], cwd=root, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"restructure: warning: ruff did not tidy the imports ({exc}); run "
              "`ruff check --select I --fix .` yourself", file=sys.stderr)
        return
    git(root, "add", "--", *python)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="plan and check; change nothing")
    parser.add_argument(
        "--allow-dirty", action="store_true", help="run even with uncommitted changes"
    )
    args = parser.parse_args(argv)
    root = Path(os.getcwd())
    include_optional(root)
    preflight(root, allow_dirty=args.allow_dirty)
    moves, tree = plan(root)
    for warning in tree.warnings:  # e.g. an optional README edit whose anchor has changed
        print(f"restructure: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(f"restructure: dry run: {len(moves)} moves, {len(tree.files)} text files planned")
        return 0
    changed = apply(root, moves, tree)
    tidy_imports(root, changed)
    print(f"restructure: {len(moves)} moves, {len(changed)} files written; next: "
          "`lint-imports`, `ruff check .`, the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
