#!/usr/bin/env python3
"""After `restructure.py`: import every module of the packages, make sure no old module is still
importable, and list every tracked line that still names an old module or path.

Run from the checkout's root with the project's interpreter:

    PYTHONPATH=/work/wt/restructure/nosite:$PWD /work/main/.venv/bin/python \
        /work/wt/restructure/check.py
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from restructure import MODULES, NAMES, OPTIONAL, TESTS  # noqa: E402

PACKAGES = ("contracts", "runtime", "services", "projections", "sendx", "bench")


def main() -> int:
    root = Path.cwd()
    sys.path.insert(0, str(root))
    failures = 0
    count = 0
    for old, new in OPTIONAL.items():  # whichever existed were moved: none may be named now
        (TESTS if old.startswith("tests.") else MODULES).setdefault(old, new)
    for package in PACKAGES:
        top = importlib.import_module(package)
        names = [package] + [
            m.name for m in pkgutil.walk_packages(top.__path__, prefix=f"{package}.")
        ]
        for name in names:
            count += 1
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001  (report every module that fails, then fail)
                failures += 1
                print(f"IMPORT FAILED {name}\n{traceback.format_exc(limit=3)}")
    print(f"imported {count - failures} of {count} modules")
    for old in MODULES:
        if old in {m.rsplit(".", 1)[0] for m in MODULES.values()}:
            continue  # e.g. projections.access: now a package of the new layout
        try:
            spec = importlib.util.find_spec(old)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            failures += 1
            print(f"OLD MODULE STILL IMPORTABLE {old} ({spec.origin})")
    old_dotted = [o for o in {**MODULES, **TESTS} if o not in {
        m.rsplit(".", 1)[0] for m in MODULES.values()
    }]
    old_dotted += [f"{m}.{n}" for m, n in NAMES]
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(o) for o in old_dotted) + r")(?![\w])"
    )
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    stale = 0
    for path in tracked:
        try:
            text = (root / path).read_text()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                stale += 1
                print(f"STALE NAME {path}:{n}: {line.strip()[:120]}")
    print(f"{stale} lines still name an old module")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
