"""Provenance: whether a shared fact was observed live or recorded at go-live from a partner's
existing system.

No partnership starts empty: on the day an organisation joins it already holds plans in force,
open referrals and past diagnoses. Those facts are true, with their real dates, but they were not
observed as they happened, so every read model must be able to tell them apart (a plan in force
at go-live is active and due a review, but it is not a new plan issued this month). A migrated
fact names the system it came from; the day it was recorded is the envelope's `recorded_at`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from contracts.constraints import no_personal_data

SourceSystem = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$",
        description=(
            "The organisation's existing system the fact was recorded from at go-live (its own "
            "name for it, e.g. `capita-one`); absent when the fact was observed live."
        ),
    ),
    AfterValidator(no_personal_data),
]


MIGRATED_FROM = (
    "The organisation's system the fact was recorded from at go-live (it was true before the "
    "organisation joined, with the dates given); omitted when the fact was observed live."
)

MigratedFrom = Annotated[
    SourceSystem | None,
    Field(default=None, exclude_if=lambda system: system is None, description=MIGRATED_FROM),
]
"""The optional `migrated_from` of a fact that may be recorded at go-live or observed live."""
