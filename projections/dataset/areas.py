"""The areas figures are given for (each LA, the partnership) and how a month's counts for those
areas are published: partnership sums, then suppression (`projections.suppression`).

Counts are gathered as `AreaCounts`: for one month (and optionally one breakdown group, such
as an advice giver or a pathway), the counts of each measure per LA code. Health and provider
facts of a person no LA knows are counted under `UNKNOWN_AREA`, which is part of the
partnership's sum but not an LA.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts.topology import Organisation, OrgKind
from projections.suppression import Cell, Sum, suppress
from runtime.partnership import DEMO_PARTNERSHIP

PARTNERSHIP_AREA = "partnership"
UNKNOWN_AREA = "unknown"
UNKNOWN_AREA_NAME = "LA not known"
DEMO_PARTNERSHIP_NAME = "Leicester, Leicestershire and Rutland"

Relations = Callable[[set[str]], Iterable[tuple[str, Sequence[str]]]]
"""Given the measures present, the (total, parts) sums that hold within every area."""


class UnknownArea(LookupError):
    """The LA asked about is not one of the partnership's local authorities."""


@dataclass(frozen=True)
class Partnership:
    name: str
    local_authorities: Mapping[str, str]
    """LA code -> name."""

    @classmethod
    def of(
        cls,
        organisations: Sequence[Organisation] = DEMO_PARTNERSHIP,
        name: str = DEMO_PARTNERSHIP_NAME,
    ) -> Partnership:
        las = {org.code: org.name for org in organisations if org.kind is OrgKind.LA}
        return cls(name, dict(sorted(las.items())))

    def areas(self, la: str | None = None) -> list[tuple[str, str]]:
        """(code, name) of the LA asked for, or of every LA when `la` is None."""
        if la is None:
            return list(self.local_authorities.items())
        self.check(la)
        return [(la, self.local_authorities[la])]

    def check(self, la: str | None) -> None:
        if la is not None and la not in self.local_authorities:
            known = ", ".join(self.local_authorities)
            raise UnknownArea(f"LA {la!r} is not in the partnership {self.name} (known: {known})")


AreaCounts = Mapping[str | None, Counter[str]]
"""Counts per measure, by LA code (None: no LA knows the person)."""


@dataclass(frozen=True)
class PublishedArea:
    area: str
    area_name: str
    cells: dict[str, Cell]
    raw: Counter[str]
    """The exact counts, for statistics that are then shown or hidden by their own rule."""


def publish_areas(
    counts: AreaCounts,
    measures: Sequence[str],
    partnership: Partnership,
    la: str | None,
    relations: Relations = lambda _: (),
) -> list[PublishedArea]:
    """One row per LA (and the unknown LA, if any), then the partnership row, suppressed.

    With `la`, only that LA's row is published (no partnership sum, so nothing to derive from).
    Every measure in `measures` appears in every row (0 when nothing was counted).
    """
    areas = _areas_published(counts, partnership, la)
    present, within_area = _measures(counts, measures, relations)
    raw = _raw_counts(counts, areas, present, partnership_sum=la is None)
    names = dict(areas) | {PARTNERSHIP_AREA: partnership.name}
    cells = {(code, m): raw[code][m] for code in raw for m in present}
    published = suppress(cells, _sums(raw, areas, present, within_area, partnership_sum=la is None))
    return [
        PublishedArea(code, names[code], {m: published[(code, m)] for m in present}, raw[code])
        for code in raw
    ]


def _areas_published(
    counts: AreaCounts, partnership: Partnership, la: str | None
) -> list[tuple[str, str]]:
    """The LA asked for, or every LA and the unknown LA when anyone is counted under it."""
    areas = partnership.areas(la)
    if la is None and any(counts.get(None, {}).values()):
        areas.append((UNKNOWN_AREA, UNKNOWN_AREA_NAME))
    return areas


def _measures(
    counts: AreaCounts, measures: Sequence[str], relations: Relations
) -> tuple[set[str], list[tuple[str, tuple[str, ...]]]]:
    """Every measure a row shows (asked for, counted, or in a sum) and the sums within an area."""
    present = set(measures) | {m for c in counts.values() for m in c}
    within_area = [(total, tuple(parts)) for total, parts in relations(present)]
    present |= {m for total, parts in within_area for m in (total, *parts)}
    return present, within_area


def _raw_counts(
    counts: AreaCounts, areas: list[tuple[str, str]], present: set[str], partnership_sum: bool
) -> dict[str, Counter[str]]:
    """The exact counts of each published row, the partnership's the sum of the others."""
    raw: dict[str, Counter[str]] = {
        code: Counter({m: counts.get(_la(code), Counter())[m] for m in present})
        for code, _ in areas
    }
    if partnership_sum:
        raw[PARTNERSHIP_AREA] = Counter({m: sum(raw[c][m] for c, _ in areas) for m in present})
    return raw


def _sums(
    raw: dict[str, Counter[str]],
    areas: list[tuple[str, str]],
    present: set[str],
    within_area: list[tuple[str, tuple[str, ...]]],
    partnership_sum: bool,
) -> list[Sum]:
    """The sums suppression must not let anyone subtract through: within each row, and the
    partnership's row as the sum of the areas'."""
    sums = [
        Sum((code, total), tuple((code, p) for p in parts))
        for code in raw
        for total, parts in within_area
    ]
    if partnership_sum:
        sums += [Sum((PARTNERSHIP_AREA, m), tuple((code, m) for code, _ in areas)) for m in present]
    return sums


def _la(code: str) -> str | None:
    return None if code == UNKNOWN_AREA else code
