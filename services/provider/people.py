"""The provider's pupils and students: who it holds a record for, and where they go next.

Raw identifiers live in `services.domain.people` and stay in the provider's store. No I/O.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import event

from services.domain.people import RegisteredPerson

POST16_FROM_AGE = 15
"""The youngest age at which a young person moves on to a post-16 destination (end of Year 11)."""


class Pupil(RegisteredPerson):
    """A child or young person on the provider's roll."""

    org_label = "provider "

    def start_record(self) -> None:
        self.destinations: dict[date, str] = {}

    def confirm_post16_destination(
        self, *, confirmed_on: date, destination: str, moves_on: date
    ) -> None:
        what = "provider.post16_destination_confirmed"
        self.not_before_birth(what, "confirmed_on", confirmed_on)
        if self.age_on(moves_on) < POST16_FROM_AGE:
            raise self.refuse(
                what,
                f"moves_on {moves_on} is before they turn {POST16_FROM_AGE}; post-16 "
                "destinations follow Year 11",
            )
        if moves_on in self.destinations:
            raise self.refuse(
                what,
                f"a destination ({self.destinations[moves_on]}) is already confirmed for "
                f"{moves_on}",
            )
        self._post16_destination_confirmed(
            confirmed_on=confirmed_on, destination=destination, moves_on=moves_on
        )

    @event("Post16DestinationConfirmed")
    def _post16_destination_confirmed(
        self, confirmed_on: date, destination: str, moves_on: date
    ) -> None:
        self.destinations[moves_on] = destination
