"""Stored provider events -> shared contract events, pseudonymised and minimised.

Every event of a non-bookkeeping aggregate is shared; `ActiveArrangements` is bookkeeping.
Builders read the stored event alone.
"""

from __future__ import annotations

from typing import ClassVar

from contracts import ap, provider
from services.domain.people import RegisteredPerson
from services.provider.people import Pupil
from services.provider.placements import ApPlacement, PartTimeTimetable
from services.sharing.translation import Build, Translator, person_erased, person_registered


class ProviderContract(Translator):
    builders: ClassVar[dict[type, Build]] = {
        Pupil.Registered: person_registered,
        RegisteredPerson.Erased: person_erased,
        ApPlacement.Started: lambda e: (
            ap.PlacementStarted(
                placement_id=e.placement_id,
                started_on=e.started_on,
                tier=e.tier,
                part_time=e.part_time,
                reason=e.reason,
                commissioned_by=e.commissioned_by,
            ),
            e.started_on,
        ),
        ApPlacement.Ended: lambda e: (
            ap.PlacementEnded(placement_id=e.placement_id, ended_on=e.ended_on, outcome=e.outcome),
            e.ended_on,
        ),
        PartTimeTimetable.Started: lambda e: (
            provider.PartTimeTimetableStarted(
                timetable_id=e.timetable_id,
                started_on=e.started_on,
                hours_per_week=e.hours_per_week,
                reason=e.reason,
            ),
            e.started_on,
        ),
        PartTimeTimetable.Ended: lambda e: (
            provider.PartTimeTimetableEnded(timetable_id=e.timetable_id, ended_on=e.ended_on),
            e.ended_on,
        ),
        Pupil.Post16DestinationConfirmed: lambda e: (
            provider.Post16DestinationConfirmed(
                confirmed_on=e.confirmed_on, destination=e.destination, moves_on=e.moves_on
            ),
            e.confirmed_on,
        ),
    }
