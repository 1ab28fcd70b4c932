"""Shared code lists (SEN2 and NHS vocabularies) used by several event families."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from contracts.constraints import no_personal_data
from contracts.envelope import ORG_CODE_PATTERN

OrgCode = Annotated[str, Field(pattern=ORG_CODE_PATTERN, description="An organisation code.")]
LocalId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_:/-]{0,63}$",
        description=(
            "The publishing organisation's own opaque reference (no personal data: no NHS "
            "number, no date, no name-like word; `contracts.constraints`)."
        ),
    ),
    AfterValidator(no_personal_data),
]

PrimaryNeed = Literal[
    "ASD", "SLCN", "SEMH", "MLD", "SLD", "PMLD", "SPLD", "HI", "VI", "MSI", "PD", "OTH"
]
"""SEN2 primary type of need codes."""

AdviceGiver = Literal["health", "social_care", "educational_psychology", "education", "other"]
Pathway = Literal["neurodevelopmental", "slt", "camhs", "ot", "paediatrics"]
Condition = Literal["autism", "adhd", "learning_disability"]
