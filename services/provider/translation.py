"""Stored provider events -> shared contract events, pseudonymised and minimised.

Every event of a non-bookkeeping aggregate is shared; `ActiveArrangements` is bookkeeping.
Builders copy the contract's fields from the stored event alone.
"""

from __future__ import annotations

from typing import ClassVar

from contracts import ap, provider
from services.provider.people import Pupil
from services.provider.placements import ApPlacement, PartTimeTimetable
from services.sharing.translation import Build, Copy, Translator, kind_builders


class ProviderContract(Translator):
    builders: ClassVar[dict[type, Build]] = kind_builders(
        Pupil,
        Copy(ApPlacement.Started, ap.PlacementStarted, "started_on"),
        Copy(ApPlacement.Ended, ap.PlacementEnded, "ended_on"),
        Copy(PartTimeTimetable.Started, provider.PartTimeTimetableStarted, "started_on"),
        Copy(PartTimeTimetable.Ended, provider.PartTimeTimetableEnded, "ended_on"),
        Copy(
            Pupil.Post16DestinationConfirmed, provider.Post16DestinationConfirmed,
            "confirmed_on",
        ),
    )
