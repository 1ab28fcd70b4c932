"""The code a newcomer reads says each thing once and stays simple: pylint's duplicate-code
check finds no six lines repeated across the per-kind services and their shared base (radon's
complexity check is tests/test_complexity.py). A deliberate copy,
in a copy of the tree, is reported with both places named, so the check can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = ("la", "icb", "provider", "domain", "endpoint", "sharing")
"""The per-kind services and the shared code they are built from."""


def duplicate_code(services: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("pylint")
    if not executable.exists():
        pytest.fail(f"pylint is not installed beside {sys.executable} (dev extra)")
    return subprocess.run(
        [
            str(executable), "--disable=all", "--enable=R0801", "--min-similarity-lines=6",
            "--score=n", *(str(services / p) for p in SERVICE_PACKAGES),
        ],
        cwd=services.parent, capture_output=True, text=True, timeout=300,
        env={"PATH": str(executable.parent), "PYTHONPATH": str(services.parent)},
    )


def test_no_six_lines_are_repeated_across_the_services() -> None:
    result = duplicate_code(ROOT / "services")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "R0801" not in result.stdout


def test_a_copied_block_is_reported(tmp_path: Path) -> None:
    services = tmp_path / "services"
    shutil.copytree(ROOT / "services", services, ignore=shutil.ignore_patterns("__pycache__"))
    source = (services / "la" / "domain.py").read_text()
    start = source.index("    def hold_annual_review(")
    block = source[start:source.index("    @event(", start)]
    provider = services / "provider" / "placements.py"
    provider.write_text(provider.read_text() + "\n\nclass Copied:\n" + block)
    result = duplicate_code(services)
    assert "R0801" in result.stdout, result.stdout + result.stderr
    assert "==services.la.domain" in result.stdout
    assert "==services.provider.placements" in result.stdout
