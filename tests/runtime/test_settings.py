"""One settings object: a bad value is one line naming the variable and the value, nothing is
read from the environment at import time, and no module but `runtime.settings` reads it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.bus.streams import deadletter_stream, events_stream
from runtime.settings import GIB, VARIABLES, Settings, SettingsError, settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "runtime", "services", "projections", "sendx")
CHILD_ENVIRONMENTS = {
    Path("runtime/bus/nats_server.py"): "nats-server's environment: this one plus its secrets",
    Path("sendx/supervisor.py"): "each child's environment: this one plus its own variables",
}
"""The only places that may touch `os.environ`: to hand it on to a child process."""


def sendx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`sendx ARGS` as its own process, in this environment without sendx's variables."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "sendx.cli", *args], env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_a_bad_rate_limit_stops_the_api_with_one_line_naming_it(tmp_path: Path) -> None:
    # given an operator who mistypes the API's rate limit
    # when they start the API
    ran = sendx("api", SENDX_API_RATE_LIMIT="abc", SENDX_DATA_DIR=str(tmp_path))
    # then it refuses at once, in one line naming the variable, the value and what is allowed
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "sendx api: error: SENDX_API_RATE_LIMIT='abc': must be limits such as "
        "'20/second;600/minute' (a count per second, minute, hour or day, separated by ';')"
    ]
    assert "Traceback" not in ran.stderr + ran.stdout


def test_every_bad_value_is_named_on_the_same_line() -> None:
    # given two bad values at once
    ran = sendx("settings", "--check", PORT="eighty", SENDX_PROGRESS="loud")
    # then the check names both, in one line, and exits 2
    assert ran.returncode == 2
    assert ran.stderr.splitlines() == [
        "sendx settings: error: PORT='eighty': must be a port number from 1 to 65535; "
        "SENDX_PROGRESS='loud': must be bar, plain or off"
    ]
    # and a good environment passes
    assert sendx("settings", "--check", PORT="8080").returncode == 0


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("SENDX_STORE", "mysql", "must be 'sqlite' or 'postgres'"),
    ("SENDX_EVENTS_MAX_BYTES", "16G", "must be a positive number of bytes"),
    ("SENDX_DEADLETTER_MAX_BYTES", "-1", "must be a positive number of bytes"),
    ("SENDX_METRICS_PORT", "70000", "must be a port number (0 = off)"),
    ("SENDX_CLI_TIMEOUT", "0", "must be a number of seconds"),
    ("POSTGRES_PORT", "db", "must be a port number"),
    ("AGGREGATE_CACHE_MAXSIZE", "many", "must be a whole number of aggregates"),
])
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        settings()
    assert str(refused.value) == f"{variable}={value!r}: {problem}"


def test_set_but_empty_is_unset_and_values_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SENDX_STORE_WORKER", " ON ")
    monkeypatch.setenv("SENDX_CLI_TIMEOUT", "")
    monkeypatch.setenv("SENDX_NATS_CA", "/etc/sendx/ca.crt")
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "")
    config = settings()
    assert config.store_worker == "on"
    assert config.cli_timeout == 15.0
    assert config.nats_ca == Path("/etc/sendx/ca.crt")
    assert config.aggregate_cache_maxsize is None  # eventsourcing's own: empty means no cache
    assert config.events_max_bytes == 16 * GIB and config.data_dir == Path(".sendx")


def test_settings_follow_the_environment_and_keywords_override_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", "nats://a:4222")
    first = settings()
    assert settings() is first  # parsed once while the environment stays the same
    monkeypatch.setenv("NATS_URL", "nats://b:4222")
    assert settings().nats_url == "nats://b:4222"
    assert Settings(nats_url="nats://c:4222").nats_url == "nats://c:4222"


def test_secrets_stay_out_of_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDX_NATS_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("SENDX_PARTNERSHIP_KEY", "partnership-secret")
    assert "secret" not in repr(settings())


def test_the_stream_ceilings_are_read_when_declared_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the stream module already imported (above), then a ceiling set afterwards
    monkeypatch.setenv("SENDX_EVENTS_MAX_BYTES", str(3 * GIB))
    monkeypatch.setenv("SENDX_DEADLETTER_MAX_BYTES", str(GIB))
    # then the declared streams use it
    assert events_stream().max_bytes == 3 * GIB
    assert deadletter_stream().max_bytes == GIB
    assert events_stream(max_bytes=5).max_bytes == 5


def test_every_module_imports_whatever_the_environment_holds() -> None:
    # given an environment where every variable holds nonsense
    weird = {name: "\u00bfnonsense?" for name in VARIABLES}
    # when every module of every package is imported
    script = (
        "import importlib, pkgutil\n"
        f"for package in {PACKAGES!r}:\n"
        "    root = importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(root.__path__, package + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print('imported')\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    ran = subprocess.run([sys.executable, "-c", script], env={**clean, **weird}, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    # then nothing read the environment on import: every import succeeds
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip() == "imported"


def environment_reads(path: Path) -> list[int]:
    """Lines of `path` that touch `os.environ` or `os.getenv`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
        and isinstance(node.value, ast.Name) and node.value.id == "os"
    })


def test_only_the_settings_module_reads_the_environment() -> None:
    found = {
        path.relative_to(ROOT): lines
        for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := environment_reads(path))
    }
    readers = set(found) - {Path("runtime/settings.py")}
    assert readers == set(CHILD_ENVIRONMENTS), {
        str(path): found[path] for path in readers - set(CHILD_ENVIRONMENTS)
    }
