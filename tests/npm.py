"""Node.js packages for the tests that need them: `npm ci` once per lock file, then cached.

`node_modules` stays beside its `package.json` (gitignored) with a stamp holding the SHA-256 of
the `package-lock.json` it was installed from, so a second run installs nothing and a changed
lock file installs again. Without node or npm a test skips, or fails under CI
(`tests.needed.unavailable`), since `make test` is meant to run them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from tests.needed import unavailable

STAMP = ".sendx-installed-lock"
NPM_CI_TIMEOUT = 300


def node() -> str:
    """The `node` executable, or skip/fail naming what is missing."""
    found = shutil.which("node")
    if found is None:
        unavailable("node is not installed: `make test` needs Node.js 18+ (Debian: nodejs, npm)")
    return found


def npm_ci(directory: Path) -> Path:
    """`npm ci` in `directory` unless its node_modules is from the same lock file; returns it."""
    lock = directory / "package-lock.json"
    modules = directory / "node_modules"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = modules / STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        return modules
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: `make test` needs Node.js 18+ with npm")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=directory, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT,
    )
    assert done.returncode == 0, f"npm ci in {directory} failed:\n{done.stdout}\n{done.stderr}"
    stamp.write_text(digest + "\n")
    return modules
