"""The README's layout table names every sub-package and the modules it holds today.

A newcomer finds their way by that table, so a package or module added without a line there
fails here, with the row to paste."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("contracts", "runtime", "services", "projections", "sendx")
ROW = re.compile(r"^\| `(?P<package>[a-z_/]+)/` \| (?P<holds>.+?) \| (?P<modules>.*) \|$")


def packages() -> dict[str, str]:
    """Each source package -> its modules and sub-packages, as the table lists them."""
    found: dict[str, str] = {}
    for layer in LAYERS:
        for init in sorted((ROOT / layer).rglob("__init__.py")):
            folder = init.parent
            modules = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("__"))
            subpackages = sorted(p.parent.name for p in folder.glob("*/__init__.py"))
            names = [f"`{m}`" for m in modules] + [f"`{s}/`" for s in subpackages]
            found[folder.relative_to(ROOT).as_posix()] = ", ".join(names)
    return found


def layout_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = (ROW.match(line) for line in section.splitlines())
    return {m["package"]: m["modules"] for m in rows if m}


def test_every_package_has_a_row_listing_what_it_holds() -> None:
    rows = layout_rows()
    wrong = {
        package: modules for package, modules in packages().items() if rows.get(package) != modules
    }
    assert not wrong, "README.md's Layout table is out of date; rows should list:\n" + "\n".join(
        f"| `{package}/` | (what it holds) | {modules} |" for package, modules in wrong.items()
    )


def test_no_row_names_a_package_that_is_gone() -> None:
    assert set(layout_rows()) <= set(packages())
