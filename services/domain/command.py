"""The base of every partner-facing command: a strict pydantic model with a stable name.

A command is what a partner system asks an organisation's service to record
(`ehc.issue_plan`); the service's rules turn it into stored events. Field types shared by
more than one service kind (the NHS number, the AP tier) live here.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from contracts import ap
from services.domain.identity import validate_nhs_number

NhsNumber = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
    AfterValidator(validate_nhs_number),
    Field(description="10-digit NHS number (spaces allowed); validated, never shared."),
]



def _int_from_text(value: object) -> object:
    """CSV cells are text: `2` must still match a numeric code such as the AP tier."""
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


ApTier = Annotated[ap.Tier, BeforeValidator(_int_from_text)]
"""The contract's AP tier, also read from a CSV cell's text (the LA commissions, a provider
starts a placement)."""


class Command(BaseModel):
    """Unknown fields are errors (a misspelt column must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def event_type(cls) -> str:
        """The contract event it produces (its first alias): how refusals name what failed."""
        return cls.aliases[0]

    def fields(self, *omit: str) -> dict[str, Any]:
        """Its fields as Python values, less those the handler used to find what changes: the
        keyword arguments of the aggregate method it calls, so a new field is passed on."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in omit}

    def fingerprint(self) -> str:
        """What the command says, hashed: tells a re-sent row from a reused record_id."""
        return hashlib.sha256(f"{self.name}:{self.model_dump_json()}".encode()).hexdigest()
