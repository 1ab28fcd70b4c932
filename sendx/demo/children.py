"""The synthetic children: the same ones every time for a seed, for the demo and for `bench/`.

`children()` builds one list of synthetic children from one seed (NHS numbers in the 999
test range with valid modulus-11 check digits, names, dates of birth, home LA). What happens
to each of them is told once (`sendx.demo.stories`) and rendered twice: as each organisation's
import extract (`sendx.demo.extracts`) and as contract events on the bus
(`sendx.demo.population`). Each part of a story draws from the child's own random stream
(`child.rng("icb")`), so adding a part never changes another part's happenings.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

from contracts import timescales
from services.domain.identity import nhs_check_digit

DEMO_SEED = 2025
DEMO_TODAY = date(2026, 10, 31)
"""The demo's 'now': histories stop before it, so the extracts never change with the calendar
(`story_today` moves it back when the machine's calendar is earlier)."""
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
    seed: int | str = DEMO_SEED

    def rng(self, part: str) -> random.Random:
        """This child's own random stream for one part of their story."""
        return random.Random(f"{self.seed}/{part}/{self.index}")

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


def story_today(today: date | None = None) -> date:
    """The day every story ends before: `today` if given, else the demo's 'now', moved back to
    the machine's date when that is earlier, so no generated date is ever in the future."""
    return today or min(DEMO_TODAY, date.today())


def iter_children(seed: int | str = DEMO_SEED, las: Sequence[str] = tuple(DEMO_LAS),
                  la_weights: Sequence[float] = tuple(DEMO_LAS.values())) -> Iterator[Child]:
    """Synthetic children without end, each with a new NHS number, living in one of `las`."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while True:
        nhs = synthetic_nhs_number(rng)
        if nhs in seen:
            continue
        seen.add(nhs)
        born = DEMO_TODAY - timedelta(days=rng.randint(4 * 365, 24 * 365))
        yield Child(
            index=len(seen),
            nhs_number=nhs,
            given_name=rng.choice(GIVEN),
            family_name=rng.choice(FAMILY),
            born_on=born,
            la=rng.choices(las, weights=la_weights)[0],
            primary_need=rng.choice(NEEDS),
            seed=seed,
        )


def children(count: int = 300, seed: int = DEMO_SEED) -> list[Child]:
    """The first `count` children of `seed` (the demo's are the first of `DEMO_SEED`)."""
    return list(islice(iter_children(seed), count))


def days_between_weeks(rng: random.Random, low_weeks: float, high_weeks: float) -> timedelta:
    return timedelta(days=rng.randint(int(low_weeks * 7), int(high_weeks * 7)))
