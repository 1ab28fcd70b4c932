"""AP placements and part-time timetables: things that start, run and end for one person.

A person may hold at most one active AP placement at this provider and one active part-time
timetable; `ActiveArrangements` (bookkeeping, never shared) remembers which are open, so a
second start is refused with the reference of the one still running. No I/O.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from services.domain.aggregates import (
    Aggregate,
    Bookkeeping,
    DomainError,
    MigratedFromSinceV2,
    reference_id,
)


class ApPlacement(Aggregate):
    """An alternative provision placement at this provider, from the first day to the last."""

    @staticmethod
    def create_id(org: str, placement_id: str) -> UUID:
        return reference_id(org, "ap-placement", placement_id)

    class Started(Aggregate.Created, MigratedFromSinceV2):
        """Stored version 2 added `migrated_from` (a version 1 placement was observed live)."""

        org: str
        placement_id: str
        person_id: UUID
        started_on: date
        tier: int
        part_time: bool
        reason: str
        commissioned_by: str | None

    @event(Started)
    def __init__(
        self,
        org: str,
        placement_id: str,
        person_id: UUID,
        started_on: date,
        tier: int,
        part_time: bool,
        reason: str,
        commissioned_by: str | None,
        migrated_from: str | None,
    ) -> None:
        self.placement_id = placement_id
        self.person_id = person_id
        self.started_on = started_on
        self.ended_on: date | None = None

    def end(self, *, ended_on: date, outcome: str) -> None:
        what = f"ap.placement_ended for placement {self.placement_id}"
        if self.ended_on is not None:
            raise DomainError(f"{what}: the placement already ended on {self.ended_on}")
        if ended_on < self.started_on:
            raise DomainError(
                f"{what}: ended_on {ended_on} is before the placement started on {self.started_on}"
            )
        self._ended(placement_id=self.placement_id, ended_on=ended_on, outcome=outcome)

    @event("Ended")
    def _ended(self, placement_id: str, ended_on: date, outcome: str) -> None:
        self.ended_on = ended_on


class PartTimeTimetable(Aggregate):
    """A part-time timetable (DfE: exceptional, time-limited), from its start to its end."""

    @staticmethod
    def create_id(org: str, timetable_id: str) -> UUID:
        return reference_id(org, "timetable", timetable_id)

    class Started(Aggregate.Created, MigratedFromSinceV2):
        """Stored version 2 added `migrated_from` (a version 1 timetable was observed live)."""

        org: str
        timetable_id: str
        person_id: UUID
        started_on: date
        hours_per_week: float
        reason: str

    @event(Started)
    def __init__(
        self,
        org: str,
        timetable_id: str,
        person_id: UUID,
        started_on: date,
        hours_per_week: float,
        reason: str,
        migrated_from: str | None,
    ) -> None:
        self.timetable_id = timetable_id
        self.person_id = person_id
        self.started_on = started_on
        self.ended_on: date | None = None

    def end(self, *, ended_on: date) -> None:
        what = f"provider.part_time_timetable_ended for timetable {self.timetable_id}"
        if self.ended_on is not None:
            raise DomainError(f"{what}: the timetable already ended on {self.ended_on}")
        if ended_on < self.started_on:
            raise DomainError(
                f"{what}: ended_on {ended_on} is before the timetable started on {self.started_on}"
            )
        self._ended(timetable_id=self.timetable_id, ended_on=ended_on)

    @event("Ended")
    def _ended(self, timetable_id: str, ended_on: date) -> None:
        self.ended_on = ended_on


class ActiveArrangements(Bookkeeping):
    """Per person: the AP placement and the part-time timetable running now, if any."""

    @staticmethod
    def create_id(org: str, person_id: UUID) -> UUID:
        return reference_id(org, "active", str(person_id))

    @event("Opened")
    def __init__(self, org: str, person_id: UUID) -> None:
        self.running: dict[str, str] = {}
        """arrangement kind (`placement`, `timetable`) -> reference of the one running."""

    def check_none_running(self, kind: str, what: str, reference: str) -> None:
        running = self.running.get(kind)
        if running is not None:
            raise DomainError(
                f"{what} for {kind} {reference}: {kind} {running} is still active for this "
                f"person at this provider; end it first"
            )

    @event("Began")
    def begin(self, kind: str, reference: str) -> None:
        self.running[kind] = reference

    @event("Finished")
    def finish(self, kind: str, reference: str) -> None:
        if self.running.get(kind) == reference:
            del self.running[kind]
