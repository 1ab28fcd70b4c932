"""The services README says, for each shared event type, what its `occurred_at` is; the
translators are what decides it, so the table must name every type and the right field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from contracts.constraints import EARLIEST
from contracts.topology import PUBLISHES
from services.icb.translation import IcbContract
from services.la.translation import LaContract
from services.provider.translation import ProviderContract
from services.sharing.translation import Copy, on, person_registered

README = Path(__file__).resolve().parents[2] / "services" / "README.md"


def documented() -> dict[str, str]:
    """event type -> the first word of its `occurred_at` cell."""
    section = README.read_text().split("## What `occurred_at` means", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)` \| (\S+)", section, flags=re.MULTILINE)
    return dict(rows)


def test_every_shared_event_type_says_what_its_occurred_at_is() -> None:
    table = documented()
    published = set().union(*PUBLISHES.values())
    assert sorted(published - table.keys()) == []
    for translator in (LaContract, IcbContract, ProviderContract):
        for build in translator.builders.values():
            if isinstance(build, Copy):
                assert table[build.payload.event_type] == build.happened, build.payload


def test_a_registration_is_dated_at_the_start_of_the_shared_history() -> None:
    class Registered:
        born_on = date(2010, 6, 15)

    payload, happened = person_registered(Registered())  # type: ignore[arg-type]
    assert happened == EARLIEST and on(happened) == datetime(1900, 1, 1, tzinfo=UTC)
    assert payload.birth_month == "2010-06"
