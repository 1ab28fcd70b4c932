"""`person.*`: who a person key belongs to, minimised to what projections need (age)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.registry import event


@event("person.registered")
class PersonRegistered(Payload):
    """An organisation starts holding a record for this person. Date of birth as year-month only."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"birth_month": "2011-04"}]})

    birth_month: str = Field(
        pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$",
        description="Year and month of birth, YYYY-MM (the full date never leaves the source).",
    )
