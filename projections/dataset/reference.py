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


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    figure: list[ReferenceFigure] = Field(default_factory=list)


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


def load_reference(path: Path, known: Mapping[str, set[str]]) -> tuple[ReferenceFigure, ...]:
    if not path.exists():
        return ()
    return parse_reference(path.read_text(encoding="utf-8"), str(path), known)
