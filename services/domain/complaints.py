"""Complaints about SEND services, received and resolved the same way by the LA and by health.

The LA receives complaints about the EHC process and the provision it secures; the ICB or an
NHS trust about health provision. Each is controller of its own complaints, so the aggregate,
its commands and their handlers are written once here and mixed into the two kinds'
applications (`ComplaintsApplication`); the contract is `contracts/disagreement.py`. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from contracts.constraints import EventDate
from contracts.disagreement import ComplaintOutcome, ComplaintSubject
from contracts.vocab import LocalId
from services.domain.aggregates import Aggregate, DomainError, reference_id
from services.domain.application import handles
from services.domain.command import Command, NhsNumber
from services.domain.people import PeopleApplication


class ReceiveComplaint(Command):
    name = "disagreement.receive_complaint"
    aliases = ("disagreement.complaint_received",)

    nhs_number: NhsNumber
    complaint_id: LocalId
    received_on: EventDate
    subject: ComplaintSubject


class ResolveComplaint(Command):
    name = "disagreement.resolve_complaint"
    aliases = ("disagreement.complaint_resolved",)

    complaint_id: LocalId
    resolved_on: EventDate
    outcome: ComplaintOutcome


COMPLAINT_COMMANDS: tuple[type[Command], ...] = (ReceiveComplaint, ResolveComplaint)


class Complaint(Aggregate):
    """One complaint, from receipt to the final response."""

    @staticmethod
    def create_id(org: str, complaint_id: str) -> UUID:
        return reference_id(org, "complaint", complaint_id)

    @event("ComplaintReceived")
    def __init__(
        self, org: str, complaint_id: str, person_id: UUID, received_on: date, subject: str
    ) -> None:
        self.complaint_id = complaint_id
        self.person_id = person_id
        self.received_on = received_on
        self.subject = subject
        self.resolved_on: date | None = None

    def resolve(self, *, resolved_on: date, outcome: str) -> None:
        what = f"disagreement.complaint_resolved for complaint {self.complaint_id}"
        if self.resolved_on is not None:
            raise DomainError(f"{what}: already resolved on {self.resolved_on}")
        if resolved_on < self.received_on:
            raise DomainError(
                f"{what}: resolved_on {resolved_on} is before it was received on "
                f"{self.received_on}"
            )
        self._resolved(complaint_id=self.complaint_id, resolved_on=resolved_on, outcome=outcome)

    @event("ComplaintResolved")
    def _resolved(self, complaint_id: str, resolved_on: date, outcome: str) -> None:
        self.resolved_on = resolved_on


class ComplaintsApplication(PeopleApplication):
    """The complaint handlers, for the kinds that receive complaints (LA, ICB/trust)."""

    @handles(ReceiveComplaint)
    def receive_complaint(self, cmd: ReceiveComplaint) -> Iterable[Aggregate]:
        return [self.first_record(cmd, Complaint, "disagreement.complaint_received", "complaint",
                                  "received_on", "received")]

    @handles(ResolveComplaint)
    def resolve_complaint(self, cmd: ResolveComplaint) -> Iterable[Aggregate]:
        complaint = self.find(Complaint, Complaint.create_id(self.org.code, cmd.complaint_id))
        if complaint is None:
            raise DomainError(
                f"disagreement.complaint_resolved for complaint {cmd.complaint_id}: no complaint "
                f"received by {self.org.code} has this id"
            )
        complaint.resolve(**cmd.fields("complaint_id"))
        return [complaint]
