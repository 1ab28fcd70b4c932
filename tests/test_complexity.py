"""No block of the source is above radon's rank C (cyclomatic complexity over 20): a newcomer
can read any function in one sitting. `radon cc -n D` lists every block ranked D or worse; the
test fails naming them. A deliberately tangled function, in a copy of a package, is reported.

Packages checked: every source layer (contracts/, runtime/, services/, projections/, sendx/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("contracts", "runtime", "services", "projections", "sendx")


def blocks_above_c(cwd: Path, packages: tuple[str, ...]) -> str:
    """What `radon cc -n D` reports over `packages` (empty when nothing is above C)."""
    executable = Path(sys.executable).with_name("radon")
    if not executable.exists():
        pytest.fail(f"radon is not installed beside {sys.executable} (dev extra)")
    result = subprocess.run(
        [str(executable), "cc", "-n", "D", "-s", *packages],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_no_block_is_above_rank_c() -> None:
    reported = blocks_above_c(ROOT, CHECKED)
    assert reported == "", f"blocks above rank C (split them):\n{reported}"


def test_a_tangled_function_is_reported(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "runtime", tmp_path / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(25))
    (tmp_path / "runtime" / "tangled.py").write_text(f"def tangled(x):\n{branches}    return -1\n")
    reported = blocks_above_c(tmp_path, ("runtime",))
    assert "runtime/tangled.py" in reported and "tangled - D" in reported, reported
