"""A deterministic demo partnership: the same children every time, as import extracts.

`children()` builds one list of synthetic children from one seed (NHS numbers in the 999
test range with valid modulus-11 check digits, names, dates of birth, home LA). Each
organisation kind has its own row generator over that list (`sendx/demo/la.py`: `la_rows`);
the ICB and trust generators (`sendx/demo/icb.py`) and the provider ones
(`sendx/demo/provider.py`) take the same `Child` objects, so
everyone's extracts describe the same children and link through the same person keys. Each
generator draws from the child's own random stream for its kind (`child.rng("icb")`), so adding
a kind never changes another kind's rows; `ChildRows` numbers the record ids and
`write_extract` writes CSV or JSON lines.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from contracts import timescales
from services.domain.command import Command
from services.domain.identity import nhs_check_digit

DEMO_SEED = 2025
DEMO_TODAY = date(2026, 10, 31)
"""The demo's 'now': histories stop here, so the extracts never change with the calendar."""
DEMO_LAS: dict[str, float] = {"856": 0.45, "855": 0.43, "857": 0.12}
DEMO_ICB = "QK1"
DEMO_TRUST = "RT5"
DEMO_AP_PROVIDER = "AP001"
DEMO_SCHOOL = "120001"

GIVEN = [
    "Amir",
    "Bella",
    "Callum",
    "Daisy",
    "Ethan",
    "Freya",
    "Harvey",
    "Isla",
    "Jayden",
    "Kiera",
    "Leo",
    "Maya",
    "Noah",
    "Olivia",
    "Priya",
    "Rory",
    "Sofia",
    "Tariq",
    "Uma",
    "Zain",
]
FAMILY = [
    "Ahmed",
    "Brown",
    "Chauhan",
    "Davies",
    "Evans",
    "Fisher",
    "Green",
    "Hussain",
    "Jones",
    "Khan",
    "Lewis",
    "Mistry",
    "Patel",
    "Roberts",
    "Singh",
    "Taylor",
    "Walker",
    "Wright",
]
NEEDS = (
    ["ASD"] * 32
    + ["SLCN"] * 20
    + ["SEMH"] * 16
    + ["MLD"] * 10
    + ["SPLD"] * 6
    + ["SLD"] * 5
    + ["PMLD", "HI", "VI", "PD", "OTH", "MSI"] * 2
)


@dataclass(frozen=True)
class Child:
    """One synthetic child, shared by every organisation kind's demo extract."""

    index: int
    nhs_number: str
    given_name: str
    family_name: str
    born_on: date
    la: str
    primary_need: str

    def rng(self, kind: str, seed: int = DEMO_SEED) -> random.Random:
        """This child's own random stream for one organisation kind."""
        return random.Random(f"{seed}/{kind}/{self.index}")

    @property
    def ref(self) -> str:
        return f"{self.index:06d}"

    def age_on(self, on: date) -> int:
        return timescales.age_on(self.born_on, on)


def synthetic_nhs_number(rng: random.Random) -> str:
    """A valid NHS number in the 999 range that the NHS reserves for testing."""
    while True:
        first_nine = f"999{rng.randrange(10**6):06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"


def children(count: int = 300, seed: int = DEMO_SEED) -> list[Child]:
    rng = random.Random(seed)
    seen: set[str] = set()
    result: list[Child] = []
    while len(result) < count:
        nhs = synthetic_nhs_number(rng)
        if nhs in seen:
            continue
        seen.add(nhs)
        born = DEMO_TODAY - timedelta(days=rng.randint(4 * 365, 24 * 365))
        result.append(
            Child(
                index=len(result) + 1,
                nhs_number=nhs,
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                born_on=born,
                la=rng.choices(list(DEMO_LAS), weights=list(DEMO_LAS.values()))[0],
                primary_need=rng.choice(NEEDS),
            )
        )
    return result


def days_between_weeks(rng: random.Random, low_weeks: float, high_weeks: float) -> timedelta:
    return timedelta(days=rng.randint(int(low_weeks * 7), int(high_weeks * 7)))


class ChildRows:
    """Collects one child's rows for one organisation, record ids `<org>-<child>-<step>`."""

    def __init__(self, child: Child, org: str) -> None:
        self.child, self.org = child, org
        self.rows: list[dict[str, Any]] = []

    def add(self, command: str, **fields: Any) -> None:
        record_id = f"{self.org}-{self.child.ref}-{len(self.rows) + 1:02d}"
        self.rows.append({"record_id": record_id, "command": command, **fields})

    def register(self) -> None:
        """The `person.register` row every organisation sends first (identifiers stay home)."""
        child = self.child
        self.add(
            "person.register",
            nhs_number=child.nhs_number,
            given_name=child.given_name,
            family_name=child.family_name,
            born_on=child.born_on,
        )


def columns_for(commands: tuple[type[Command], ...]) -> list[str]:
    """One CSV header for every command of a kind: record_id, command, then each field once."""
    columns = ["record_id", "command"]
    for command in commands:
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
