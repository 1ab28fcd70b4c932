"""`provider.*`: what schools, colleges and AP providers know: timetables, post-16 destinations."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.provenance import MigratedFrom
from contracts.registry import event, upcaster
from contracts.vocab import LocalId

TimetableReason = Literal["medical", "reintegration", "behaviour", "send", "other"]
Post16Destination = Literal[
    "sixth_form", "fe_college", "specialist_post16", "apprenticeship", "supported_internship",
    "employment", "neet", "other",
]


@event("provider.part_time_timetable_started")
class PartTimeTimetableStartedV1(Payload):
    """v1 of `provider.part_time_timetable_started` (superseded by v2: `migrated_from`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "timetable_id": "120001-T-9", "started_on": "2025-02-03", "hours_per_week": 12.5,
            "reason": "medical",
        }]}
    )

    timetable_id: LocalId
    started_on: date = Field(description="First day of the part-time timetable.")
    hours_per_week: float = Field(gt=0, lt=32.5, description="Taught hours a week.")
    reason: TimetableReason = Field(
        description="Why the pupil is on a part-time timetable."
    )


@event("provider.part_time_timetable_started", version=2)
class PartTimeTimetableStarted(PartTimeTimetableStartedV1):
    """A pupil was put on a part-time timetable (DfE guidance: exceptional and time-limited).

    v2 adds `migrated_from`: a timetable already running when the school joined is recorded at
    go-live with its real start date (a v1 timetable was observed live).
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "timetable_id": "120001-T-9", "started_on": "2025-02-03", "hours_per_week": 12.5,
            "reason": "medical", "migrated_from": "sims",
        }]}
    )

    migrated_from: MigratedFrom


@upcaster("provider.part_time_timetable_started", from_version=1)
def _timetable_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("provider.part_time_timetable_ended")
class PartTimeTimetableEnded(Payload):
    """A part-time timetable ended (the pupil returned to full time or left)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"timetable_id": "120001-T-9", "ended_on": "2025-03-28"}]}
    )

    timetable_id: LocalId
    ended_on: date = Field(description="Last day of the part-time timetable.")


@event("provider.post16_destination_confirmed")
class Post16DestinationConfirmed(Payload):
    """The next destination after school or college is confirmed (due 31 March before the move)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "confirmed_on": "2027-02-15", "destination": "fe_college", "moves_on": "2027-09-01",
        }]}
    )

    confirmed_on: date = Field(description="Date the destination was confirmed.")
    destination: Post16Destination = Field(description="Where the young person goes next.")
    moves_on: date = Field(description="Date the young person starts the destination.")
