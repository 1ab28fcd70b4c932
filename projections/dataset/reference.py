"""England's published figures, as reference data beside the partnership's own: each with its
source and period, and whether its definition matches the indicator's (shown where it does,
labelled where it does not). Checked when read: an unknown indicator or figure stops the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from projections.dataset.config_files import checked

ENGLAND_FILE = Path(__file__).resolve().parents[2] / "deploy" / "reference" / "england.toml"


class BadReference(ValueError):
    """The reference file cannot be used; the message names the file, the entry and the field."""


class ReferenceFigure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: str
    figure: str = Field(description="The field of the indicator's figures it compares with.")
    period: str = Field(min_length=1, description="What the national figure covers, e.g. 2024.")
    value: float
    source: str = Field(min_length=1, description="The publication, with its date.")
    matches: bool = Field(description="Counted by the same definition as the indicator.")
    note: str = Field("", description="How the definition differs, where it does.")


class NoComparator(BaseModel):
    """An indicator England publishes no matching figure for (in the project's sources): the
    dashboard labels it so, with the reason, rather than leave the reader to guess."""

    model_config = ConfigDict(extra="forbid")

    indicator: str
    reason: str = Field(min_length=1, description="Why there is no England figure beside it.")


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    figure: list[ReferenceFigure] = Field(default_factory=list)
    no_comparator: list[NoComparator] = Field(default_factory=list)


class England(BaseModel):
    """The reference file, checked: the figures, and the indicators labelled as having none."""

    figures: tuple[ReferenceFigure, ...] = ()
    none: tuple[NoComparator, ...] = ()

    def figures_for(self, indicator: str) -> list[ReferenceFigure]:
        return [f for f in self.figures if f.indicator == indicator]

    def no_comparator(self, indicator: str) -> str:
        """Why `indicator` has no England figure ("" where it has one or is not labelled)."""
        return next((n.reason for n in self.none if n.indicator == indicator), "")


def parse_england(text: str, name: str, known: Mapping[str, set[str]]) -> England:
    """The figures (`parse_reference`) and the labelled ones: each a known indicator, labelled
    once, and not one that has a figure."""
    labelled = checked(text, name, _File, BadReference).no_comparator
    figures = parse_reference(text, name, known)
    with_figure = {f.indicator for f in figures}
    seen: set[str] = set()
    for number, n in enumerate(labelled, start=1):
        where = f"{name}: no_comparator {number} ({n.indicator})"
        if n.indicator not in known:
            raise BadReference(f"{where}: no such indicator; known: {', '.join(sorted(known))}")
        if n.indicator in with_figure or n.indicator in seen:
            raise BadReference(f"{where}: labelled twice, or it has a figure")
        seen.add(n.indicator)
    return England(figures=figures, none=tuple(labelled))


def parse_reference(text: str, name: str, known: Mapping[str, set[str]]
                    ) -> tuple[ReferenceFigure, ...]:
    figures = checked(text, name, _File, BadReference).figure
    for number, f in enumerate(figures, start=1):
        if f.figure not in known.get(f.indicator, set()):
            raise BadReference(f"{name}: figure {number}: {f.indicator!r} has no figure "
                               f"{f.figure!r}")
        if not f.matches and not f.note:
            raise BadReference(f"{name}: figure {number}: say in 'note' how its definition "
                               "differs")
    return tuple(figures)


def load_reference(path: Path, known: Mapping[str, set[str]]) -> England:
    if not path.exists():
        return England()
    return parse_england(path.read_text(encoding="utf-8"), str(path), known)
