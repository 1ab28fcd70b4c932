"""Registering the people an organisation holds records for, the same way in every service kind.

Every kind (LA, ICB/trust, provider) starts a person's record from their NHS number (validated,
modulus 11), name and full date of birth; those stay in the organisation's own store (encrypted
at rest when `SENDX_CIPHER_KEY` is set) and only the keyed pseudonym and the birth month are
shared. The pseudonym depends on the NHS number and the partnership key alone
(`services.domain.identity.person_key`), so the same child has the same key whoever registers them.

A kind subclasses `RegisteredPerson` (adding its own milestones) and `PeopleApplication`
(which handles `person.register` and finds people for the other commands).

`person.erase` (in every kind's catalogue) records that the organisation erased the person from
what it shared; the kind's translator shares it as `person.erased`, and the relay deletes the
organisation's sealing key for the person before publishing it (`services.sharing.relay`,
`contracts.sealing`): what that organisation published reads as erased, what other
organisations published about the person is theirs to erase. The organisation's own record
stays, under its own retention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from eventsourcing.domain import event
from pydantic import Field

from contracts import timescales
from contracts.constraints import BirthDate, EventDate, today
from contracts.person import ErasureReason
from services.domain.aggregates import Aggregate, DomainError, reference_id
from services.domain.application import OrganisationApplication, handles
from services.domain.command import Command, NhsNumber
from services.domain.identity import person_key

Name = Annotated[str, Field(min_length=1, max_length=100)]


class RegisterPerson(Command):
    """Start holding a record for a child or young person (needed before any other command
    naming their NHS number). Only the birth month is shared."""

    name = "person.register"
    aliases = ("person.registered",)

    nhs_number: NhsNumber
    given_name: Name
    family_name: Name
    born_on: BirthDate = Field(
        description="Full date of birth: kept in the store, shared as YYYY-MM."
    )


class ErasePerson(Command):
    """Erase a person from what this organisation shared: its sealing key for them is deleted,
    so the personal fields it published (birth month, diagnosed conditions) read as erased in
    every event and replay. The events and the counts stay; other organisations' fields about
    the person are theirs to erase. Only for a person this organisation registered."""

    name = "person.erase"
    aliases = ("person.erased",)

    nhs_number: NhsNumber
    reason: ErasureReason
    erased_on: EventDate = Field(
        default_factory=today, description="Date the erasure was decided (default today)."
    )


class RegisteredPerson(Aggregate):
    """A person an organisation holds a record for. Name, NHS number and full date of birth
    never leave the store; the shared `person.registered` carries the birth month."""

    org_label = ""
    """How errors name the organisation's kind before its code (`LA ` 856)."""

    @staticmethod
    def create_id(org: str, nhs_number: str) -> UUID:
        return reference_id(org, "person", nhs_number)

    @event("Registered")
    def __init__(
        self, org: str, nhs_number: str, given_name: str, family_name: str, born_on: date
    ) -> None:
        self.org = org
        self.nhs_number = nhs_number
        self.given_name = given_name
        self.family_name = family_name
        self.born_on = born_on
        self.erased_on: date | None = None
        self.start_record()

    def start_record(self) -> None:
        """The kind's own initial state; runs when the person is registered and on replay."""

    def same_details(self, given_name: str, family_name: str, born_on: date) -> bool:
        return (self.given_name, self.family_name, self.born_on) == (
            given_name,
            family_name,
            born_on,
        )

    def refuse(self, what: str, why: str) -> DomainError:
        """`<event> for a person registered by LA 856: <why>` (never the NHS number or name)."""
        return DomainError(f"{what} for a person registered by {self.org_label}{self.org}: {why}")

    def not_before_birth(self, what: str, field: str, on: date) -> None:
        if on < self.born_on:
            raise self.refuse(what, f"{field} {on} is before their date of birth")

    def age_on(self, on: date) -> int:
        return timescales.age_on(self.born_on, on)

    def erase(self, *, erased_on: date, reason: str) -> bool:
        """Erase from the shared history; False if already erased (erasing twice is a no-op)."""
        if self.erased_on is not None:
            return False
        self._erased(erased_on=erased_on, reason=reason)
        return True

    @event("Erased")
    def _erased(self, erased_on: date, reason: str) -> None:
        self.erased_on = erased_on


class PeopleApplication(OrganisationApplication):
    """An organisation's Application that registers people; `person_type` is the kind's own."""

    person_type: ClassVar[type[RegisteredPerson]] = RegisteredPerson

    @property
    def label(self) -> str:
        """`NHS organisation QK1`: how errors name this organisation."""
        return f"{self.person_type.org_label}{self.org.code}"

    def person(self, nhs_number: str, what: str) -> RegisteredPerson:
        found = self.find(self.person_type, self.person_type.create_id(self.org.code, nhs_number))
        if found is None:
            raise DomainError(
                f"{what}: no person with this NHS number is registered by {self.label}; "
                f"send {RegisterPerson.name} first"
            )
        return found

    def change_person(self, cmd: Command, change: Callable[..., object]) -> list[Aggregate]:
        """The handler of a command that changes only the person it names: find them by NHS
        number and call `change` (a method of `person_type`) with the command's other fields."""
        person = self.person(cmd.nhs_number, cmd.event_type())  # type: ignore[attr-defined]
        change(person, **cmd.fields("nhs_number"))
        return [person]

    def first_record(self, cmd: Command, kind: type[Aggregate], what: str, noun: str,
                     on: str, verb: str) -> Aggregate:
        """The handler of a command that opens a new record about a registered person (a
        complaint, a placement): not dated before their birth, refused if the organisation's own
        reference (`<noun>_id`) is already used, naming it and when it was first `verb`."""
        person = self.person(cmd.nhs_number, what)  # type: ignore[attr-defined]
        person.not_before_birth(what, on, getattr(cmd, on))
        reference = getattr(cmd, f"{noun}_id")
        existing = self.find(kind, kind.create_id(self.org.code, reference))  # type: ignore[attr-defined]
        if existing is not None:
            raise DomainError(f"{what} for {noun} {reference}: already {verb} on "
                              f"{getattr(existing, on)}")
        return kind(org=self.org.code, person_id=person.id, **cmd.fields("nhs_number"))

    def person_key_of(self, aggregate_id: UUID, partnership_key: bytes) -> str:
        """The shared pseudonym of whoever the aggregate is about (the translator needs it)."""
        aggregate = self.repository.get(aggregate_id)
        if not isinstance(aggregate, RegisteredPerson):
            aggregate = self.repository.get(aggregate.person_id)
        return person_key(aggregate.nhs_number, partnership_key)

    @handles(ErasePerson)
    def erase_person(self, cmd: ErasePerson) -> Iterable[Aggregate]:
        person = self.person(cmd.nhs_number, ErasePerson.name)
        return [person] if person.erase(**cmd.fields("nhs_number")) else []

    @handles(RegisterPerson)
    def register_person(self, cmd: RegisterPerson) -> Iterable[Aggregate]:
        person_id = self.person_type.create_id(self.org.code, cmd.nhs_number)
        existing = self.find(self.person_type, person_id)
        if existing is None:
            return [
                self.person_type(
                    org=self.org.code,
                    **cmd.fields(),
                )
            ]
        if not existing.same_details(cmd.given_name, cmd.family_name, cmd.born_on):
            raise DomainError(
                f"person.registered: a person with this NHS number is already registered by "
                f"{self.label} with a different name or date of birth"
            )
        return []
