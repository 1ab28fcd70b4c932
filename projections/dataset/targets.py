"""The partnership's targets and trajectories, checked when they are read, and each figure
judged against the target in force on its month (RAG). Pure but for `load_targets`.

A board manages by the numbers in its improvement plans ("15% ... by Sep 2023, 40% ... by Jul
2024"): the file (`deploy/partnership/targets.toml`) holds them with their source, so every
figure shown beside a target says where that target comes from.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from projections.dataset.config_files import checked
from projections.dataset.figures import TargetCheck

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "deploy" / "partnership" / "targets.toml"
MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"


class BadTargets(ValueError):
    """The targets file cannot be used; the message names the file, the target and the field."""


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    starts: str = Field(alias="from", pattern=MONTH, description="YYYY-MM it applies from.")
    value: float


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: str = Field(min_length=1)
    figure: str = "percent_within"
    better: Literal["higher", "lower"] = "higher"
    amber_margin: float = Field(5.0, ge=0)
    source: str = Field(min_length=1)
    trajectory: list[Point] = Field(min_length=1)

    @model_validator(mode="after")
    def _in_order(self) -> Target:
        months = [p.starts for p in self.trajectory]
        if months != sorted(set(months)):
            raise ValueError(f"trajectory months must rise, each once: got {', '.join(months)}")
        return self

    def in_force(self, month: str) -> Point | None:
        """The trajectory point that applies in `month` (the latest starting by then)."""
        return next((p for p in reversed(self.trajectory) if p.starts <= month), None)

    def rag(self, value: float | None, target: float) -> str | None:
        if value is None:
            return None
        short = target - value if self.better == "higher" else value - target
        return "green" if short <= 0 else "amber" if short <= self.amber_margin else "red"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: list[Target] = Field(default_factory=list)


Targets = tuple[Target, ...]


def figure_fields(model: type) -> set[str]:
    """The numeric fields of the rows of an indicator's answer model (what a target can judge)."""
    (row,) = typing.get_args(model.model_fields["figures"].annotation)
    return set(row.model_fields) - {"month", "area", "area_name"}


def parse_targets(text: str, name: str, known: Mapping[str, set[str]]) -> Targets:
    """The targets in a TOML text, each checked against the indicators `known` (id -> fields)."""
    targets = checked(text, name, _File, BadTargets).target
    for number, t in enumerate(targets, start=1):
        label = f"{name}: target {number} ({t.indicator})"
        if t.indicator not in known:
            raise BadTargets(f"{label}: no such indicator; known: {', '.join(sorted(known))}")
        if t.figure not in known[t.indicator]:
            raise BadTargets(f"{label}: figure {t.figure!r} is not one of "
                             f"{', '.join(sorted(known[t.indicator]))}")
    return tuple(targets)


def load_targets(path: Path, known: Mapping[str, set[str]]) -> Targets:
    """The targets file, checked; a missing file is no targets."""
    if not path.exists():
        return ()
    return parse_targets(path.read_text(encoding="utf-8"), str(path), known)


def checks(targets: Targets, indicator: str, rows: Iterable[Any]) -> list[TargetCheck]:
    """Each row of `indicator`'s figures (or of its longer periods) against every target on it
    in force on its month."""
    found = []
    for t in (t for t in targets if t.indicator == indicator):
        for row in rows:
            point = t.in_force(row.month)
            if point is None:
                continue
            value = getattr(row, t.figure)
            value = value if isinstance(value, int | float) else None
            group = (getattr(row, "advice_giver", None) or getattr(row, "pathway", None)
                     or getattr(row, "group", ""))
            found.append(TargetCheck(
                month=row.month, area=row.area, group=group, figure=t.figure,
                period=getattr(row, "period", "month"), value=value,
                target=point.value, target_from=point.starts, rag=t.rag(value, point.value),
                source=t.source,
            ))
    return found
