"""What partner systems may ask a provider service (school, college, AP) to record.

Field names and code lists are those of the contract events they produce (`contracts/ap.py`,
`contracts/provider.py`); a command may also be named by the event type it produces.
"""

from __future__ import annotations

from pydantic import Field

from contracts import ap
from contracts.constraints import EventDate, PlannedDate
from contracts.provenance import SourceSystem
from contracts.provider import Post16Destination, TimetableReason
from contracts.vocab import LocalId, OrgCode
from services.domain.command import ApTier, Command, NhsNumber
from services.domain.people import ErasePerson, RegisterPerson


class StartPlacement(Command):
    name = "ap.start_placement"
    aliases = ("ap.placement_started",)

    nhs_number: NhsNumber
    placement_id: LocalId
    started_on: EventDate
    tier: ApTier
    part_time: bool
    reason: ap.APReason
    commissioned_by: OrgCode | None = None
    migrated_from: SourceSystem | None = None
    """Go-live: the system a placement already running is recorded from (absent when live)."""


class EndPlacement(Command):
    name = "ap.end_placement"
    aliases = ("ap.placement_ended",)

    placement_id: LocalId
    ended_on: EventDate
    outcome: ap.PlacementOutcome


class StartPartTimeTimetable(Command):
    name = "provider.start_part_time_timetable"
    aliases = ("provider.part_time_timetable_started",)

    nhs_number: NhsNumber
    timetable_id: LocalId
    started_on: EventDate
    hours_per_week: float = Field(gt=0, lt=32.5)
    reason: TimetableReason
    migrated_from: SourceSystem | None = None
    """Go-live: the system a timetable already running is recorded from (absent when live)."""


class EndPartTimeTimetable(Command):
    name = "provider.end_part_time_timetable"
    aliases = ("provider.part_time_timetable_ended",)

    timetable_id: LocalId
    ended_on: EventDate


class ConfirmPost16Destination(Command):
    name = "provider.confirm_post16_destination"
    aliases = ("provider.post16_destination_confirmed",)

    nhs_number: NhsNumber
    confirmed_on: EventDate
    destination: Post16Destination
    moves_on: PlannedDate


PROVIDER_COMMANDS: tuple[type[Command], ...] = (
    RegisterPerson,
    ErasePerson,
    StartPlacement,
    EndPlacement,
    StartPartTimeTimetable,
    EndPartTimeTimetable,
    ConfirmPost16Destination,
)
