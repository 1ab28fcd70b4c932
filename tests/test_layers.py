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
    module.write_text(module.read_text() + f"\nimport {imported}  # against the direction\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    importer_module = importer.removesuffix(".py").replace("/", ".")
    assert f"{importer_module} -> {imported}" in result.stdout, result.stdout
