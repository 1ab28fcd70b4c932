"""The provider's eventsourcing Application: partner commands in, provider events saved.

Placements and timetables are keyed by the provider's own references; `ActiveArrangements`
(bookkeeping) is saved in the same transaction, so "one active placement per person" holds
however commands arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from services.domain.aggregates import Aggregate, DomainError
from services.domain.application import handles
from services.domain.people import PeopleApplication
from services.provider import commands as c
from services.provider.people import Pupil
from services.provider.placements import ActiveArrangements, ApPlacement, PartTimeTimetable


class ProviderApplication(PeopleApplication):
    person_type = Pupil

    def pupil(self, nhs_number: str, what: str) -> Pupil:
        found = self.person(nhs_number, what)
        assert isinstance(found, Pupil)
        return found

    def arrangements(self, person_id: UUID) -> ActiveArrangements:
        index_id = ActiveArrangements.create_id(self.org.code, person_id)
        found = self.find(ActiveArrangements, index_id)
        return found or ActiveArrangements(org=self.org.code, person_id=person_id)

    def _missing(self, what: str, kind: str, reference: str, first: str) -> DomainError:
        return DomainError(
            f"{what}: no {kind} {reference} is recorded by {self.label}; send {first} first"
        )

    @handles(c.StartPlacement)
    def start_placement(self, cmd: c.StartPlacement) -> Iterable[Aggregate]:
        what = "ap.placement_started"
        pupil = self.pupil(cmd.nhs_number, what)
        pupil.not_before_birth(what, "started_on", cmd.started_on)
        existing = self.find(ApPlacement, ApPlacement.create_id(self.org.code, cmd.placement_id))
        if existing is not None:
            raise DomainError(
                f"{what} for placement {cmd.placement_id}: already started on "
                f"{existing.started_on}; use a new placement_id for a new placement"
            )
        active = self.arrangements(pupil.id)
        active.check_none_running("placement", what, cmd.placement_id)
        active.begin("placement", cmd.placement_id)
        placement = ApPlacement(
            org=self.org.code, person_id=pupil.id, **cmd.fields("nhs_number")
        )
        return [placement, active]

    @handles(c.EndPlacement)
    def end_placement(self, cmd: c.EndPlacement) -> Iterable[Aggregate]:
        what = "ap.placement_ended"
        placement = self.find(ApPlacement, ApPlacement.create_id(self.org.code, cmd.placement_id))
        if placement is None:
            raise self._missing(what, "placement", cmd.placement_id, c.StartPlacement.name)
        placement.end(**cmd.fields("placement_id"))
        active = self.arrangements(placement.person_id)
        active.finish("placement", cmd.placement_id)
        return [placement, active]

    @handles(c.StartPartTimeTimetable)
    def start_part_time_timetable(self, cmd: c.StartPartTimeTimetable) -> Iterable[Aggregate]:
        what = "provider.part_time_timetable_started"
        pupil = self.pupil(cmd.nhs_number, what)
        pupil.not_before_birth(what, "started_on", cmd.started_on)
        timetable_id = PartTimeTimetable.create_id(self.org.code, cmd.timetable_id)
        existing = self.find(PartTimeTimetable, timetable_id)
        if existing is not None:
            raise DomainError(
                f"{what} for timetable {cmd.timetable_id}: already started on "
                f"{existing.started_on}; use a new timetable_id for a new timetable"
            )
        active = self.arrangements(pupil.id)
        active.check_none_running("timetable", what, cmd.timetable_id)
        active.begin("timetable", cmd.timetable_id)
        timetable = PartTimeTimetable(
            org=self.org.code, person_id=pupil.id, **cmd.fields("nhs_number")
        )
        return [timetable, active]

    @handles(c.EndPartTimeTimetable)
    def end_part_time_timetable(self, cmd: c.EndPartTimeTimetable) -> Iterable[Aggregate]:
        what = "provider.part_time_timetable_ended"
        timetable_id = PartTimeTimetable.create_id(self.org.code, cmd.timetable_id)
        timetable = self.find(PartTimeTimetable, timetable_id)
        if timetable is None:
            raise self._missing(what, "timetable", cmd.timetable_id, c.StartPartTimeTimetable.name)
        timetable.end(**cmd.fields("timetable_id"))
        active = self.arrangements(timetable.person_id)
        active.finish("timetable", cmd.timetable_id)
        return [timetable, active]

    @handles(c.ConfirmPost16Destination)
    def confirm_post16_destination(self, cmd: c.ConfirmPost16Destination) -> Iterable[Aggregate]:
        return self.change_person(cmd, Pupil.confirm_post16_destination)

