"""The stories rendered as import extracts: each organisation's rows about the demo children.

What `sendx run --demo` imports (`sendx.demo.loader`) and the service tests send. An
organisation's rows about a child are its `person.register` row (the identifiers stay at home)
then what it did in the child's story (`sendx.demo.stories`), oldest story step first, each as
the command's fields (`services/<kind>/commands.py`: a fact a command does not declare, such as
the pathway of an assessment the trust's own records know, is left out). Record ids are
`<org>-<child>-<step>`, so a second import over the same data recognises every row. The home LA
registers every child it knows; other organisations only those they have something about.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from contracts.topology import OrgKind
from sendx.demo.children import Child, children, story_today
from sendx.demo.stories import COMMAND_OF, COMMANDS, DEMO_CAST, Story, kind_of, story_of

EXTRACT_PREFIX = {OrgKind.LA: "la", OrgKind.ICB: "icb", OrgKind.PROVIDER: "provider"}
"""The extract's file name: `la-856.csv`, `icb-QK1.csv`, `provider-AP001.csv`."""


def rows_of(story: Story, org: str) -> list[dict[str, Any]]:
    """`org`'s extract rows about the story's child (none if it has nothing about them)."""
    child = story.child
    happenings = story.of(org)
    if not happenings and org != child.la:
        return []
    rows = [{"command": "person.register", "nhs_number": child.nhs_number,
             "given_name": child.given_name, "family_name": child.family_name,
             "born_on": child.born_on}]
    kind = kind_of(story.cast, org)
    for happening in happenings:
        fields = COMMAND_OF[kind, happening.command].model_fields
        row: dict[str, Any] = {"command": happening.command}
        if "nhs_number" in fields:
            row["nhs_number"] = child.nhs_number
        row |= {k: v for k, v in happening.facts.items() if k in fields}
        rows.append(row)
    return [{"record_id": f"{org}-{child.ref}-{step:02d}", **row}
            for step, row in enumerate(rows, start=1)]


def rows_for(child: Child, org: str, today: date | None = None) -> list[dict[str, Any]]:
    """One demo organisation's rows about one child."""
    return rows_of(story_of(child, DEMO_CAST, story_today(today)), org)


def la_rows(child: Child, today: date | None = None) -> list[dict[str, Any]]:
    """The home LA's rows about one child."""
    return rows_for(child, child.la, today)


def extract(org: str, kids: list[Child] | None = None) -> list[dict[str, Any]]:
    """Every row of one demo organisation's extract, child by child."""
    return [row for child in (kids or children()) for row in rows_for(child, org)]


def columns_for(kind: OrgKind) -> list[str]:
    """One CSV header for every command of a kind: record_id, command, then each field once."""
    columns = ["record_id", "command"]
    for command in COMMANDS[kind]:
        columns += [f for f in command.model_fields if f not in columns]
    return columns


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def write_extract(rows: list[dict[str, Any]], path: Path, columns: list[str]) -> Path:
    """As CSV (one header for every command; unused cells empty) or JSON lines, by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        return path
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return path


def write_extracts(out_dir: Path, *, count: int = 300, suffix: str = ".csv",
                   kinds: tuple[OrgKind, ...] = tuple(OrgKind)) -> dict[str, Path]:
    """Each demo organisation's extract of `kinds` in `out_dir` (`la-856.csv`, ...), by code.

    Each child's story is told once and rendered for every organisation."""
    orgs = [code for code in DEMO_CAST.codes if kind_of(DEMO_CAST, code) in kinds]
    rows: dict[str, list[dict[str, Any]]] = {code: [] for code in orgs}
    today = story_today()
    for child in children(count):
        story = story_of(child, DEMO_CAST, today)
        for code in orgs:
            rows[code] += rows_of(story, code)
    return {
        code: write_extract(rows[code],
                            out_dir / f"{EXTRACT_PREFIX[kind_of(DEMO_CAST, code)]}-{code}{suffix}",
                            columns_for(kind_of(DEMO_CAST, code)))
        for code in orgs
    }

