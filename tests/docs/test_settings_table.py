"""The README's configuration table is the one `runtime.settings` renders, so a variable added to
the model cannot be left out of the README (and one removed cannot linger there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import VARIABLES, settings_table
from sendx.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def configuration_table() -> str:
    """The first table under the README's `## Configuration` heading."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    lines = section.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table)


def test_the_readme_table_is_the_one_rendered_from_the_settings() -> None:
    assert configuration_table() == settings_table(), (
        "README.md's configuration table is stale: replace it with the output of `sendx settings`"
    )


def test_the_table_lists_every_variable_once() -> None:
    rows = configuration_table().splitlines()[2:]
    named = [row.split("|")[1].strip().strip("`") for row in rows]
    assert named == list(VARIABLES)
    assert "SENDX_API_RATE_LIMIT" in named and "SENDX_DEADLETTER_MAX_BYTES" in named


def test_sendx_settings_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings"]) == 0
    assert capsys.readouterr().out == settings_table() + "\n"
