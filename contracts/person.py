"""`person.*`: who a person key belongs to, minimised to what projections need (age), and the
person's erasure from the shared history.

The birth month describes the person, not the process, so from v2 it travels sealed under the
person's key (`contracts.sealing`): erasing the person deletes the key and every copy of the
birth month on the bus becomes unreadable, while the events themselves (and the hash chains over
their bytes) stay.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.registry import event, upcaster

BirthMonth = Annotated[
    str,
    Field(
        pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$",
        description="Year and month of birth, YYYY-MM (the full date never leaves the source).",
    ),
]
ErasureReason = Literal[
    "data_subject_request", "retention_expired", "recorded_in_error", "legal_obligation", "other"
]


@event("person.registered", version=1)
class PersonRegisteredV1(Payload):
    """v1 of `person.registered` (superseded by v2, which seals the birth month).

    Still registered so that events already on the bus as v1 validate; `decode` upcasts them.
    Their birth month is in clear on the immutable stream: erasure cannot unpublish it, but the
    read models forget it (see `contracts.sealing.forget_erased`).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"birth_month": "2011-04"}]})

    birth_month: BirthMonth


@event("person.registered", version=2)
class PersonRegistered(Payload):
    """An organisation starts holding a record for this person. Date of birth as year-month only.

    v2: `birth_month` is personal, so it travels in the envelope's `sealed` (and reads as null
    once the person is erased).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"birth_month": "2011-04"}]})
    personal_fields: ClassVar[tuple[str, ...]] = ("birth_month",)

    birth_month: BirthMonth | None = Field(
        default=None,
        exclude_if=lambda month: month is None,
        description=(
            "Year and month of birth, YYYY-MM (the full date never leaves the source). Personal: "
            "sealed on the wire; null once the person is erased."
        ),
    )


@upcaster("person.registered", from_version=1)
def _birth_month_unchanged(payload: dict) -> dict:
    return dict(payload)


@event("person.erased")
class PersonErased(Payload):
    """The organisation that registered the person erased them from the shared history: their
    key is deleted, so every sealed personal field of theirs now reads as erased. Carries no
    personal data; the events, their counts and hash chains remain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"erased_on": "2026-03-02", "reason": "data_subject_request"}]
        }
    )

    erased_on: date = Field(description="Date the erasure was decided.")
    reason: ErasureReason = Field(description="Why the person was erased.")
