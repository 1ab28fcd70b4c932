"""Building blocks every organisation's domain model shares: pydantic-backed eventsourcing
aggregates (as in eventsourcing's `aggregate8` example), deterministic ids, domain errors, and
the bookkeeping aggregates that are stored but never shared.

Ids are deterministic (uuid5 of the organisation and the partner's own reference), so the same
command sent twice finds the same aggregate instead of creating a twin. No I/O here.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate as _BaseAggregate
from eventsourcing.domain import CanInitAggregate, CanMutateAggregate, event
from pydantic import BaseModel, ConfigDict

SENDX_NAMESPACE = UUID("6f1c3c1e-5b7a-4f0e-9d43-2d1f6a0c8e21")


@lru_cache(maxsize=16_384)
def reference_id(org: str, kind: str, reference: str) -> UUID:
    """The aggregate id of `org`'s `kind` of thing called `reference` (e.g. case 856-C-1).

    Cached: an import names each child's case, person and plan in row after row, and its
    record ids three times each (a uuid5 is ~5 µs; bench/findings.md, "Bulk import")."""
    return uuid5(SENDX_NAMESPACE, f"{org}/{kind}/{reference}")


def event_id_for(originator_id: UUID, originator_version: int) -> UUID:
    """The shared event id of a stored event: the same on every republish (NATS deduplicates)."""
    return uuid5(SENDX_NAMESPACE, f"event/{originator_id}/{originator_version}")


class DomainError(ValueError):
    """A command that the rules refuse; the message says what was refused and why."""


class DomainEvent(BaseModel):
    """Stored event state is a pydantic model, so dates and nested values round-trip exactly."""

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    timestamp: datetime


class MigratedFromSinceV2(BaseModel):
    """A stored event whose version 2 added `migrated_from` (go-live provenance): a version 1
    event was observed live. Mixed into the stored event classes that gained it."""

    class_version: ClassVar[int] = 2
    migrated_from: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["migrated_from"] = None


class Aggregate(_BaseAggregate):
    class Event(DomainEvent, CanMutateAggregate):
        pass

    class Created(Event, CanInitAggregate):
        originator_topic: str


class Bookkeeping(Aggregate):
    """Aggregates the service keeps for itself (indexes, import records): never shared."""


class ImportedRecord(Bookkeeping):
    """A partner's row (or command) with its own `record_id`, and what it produced.

    Saved atomically with the events the row caused, so importing the same extract again finds
    the record and publishes nothing new.
    """

    @staticmethod
    def create_id(org: str, record_id: str) -> UUID:
        return reference_id(org, "record", record_id)

    @event("Imported")
    def __init__(
        self, org: str, record_id: str, command: str, fingerprint: str, event_ids: list[UUID]
    ) -> None:
        self.record_id = record_id
        self.command = command
        self.fingerprint = fingerprint
        self.event_ids = event_ids


def pending_shared_event_ids(aggregates: list[Any]) -> list[UUID]:
    """Ids the relay will publish for these aggregates' not-yet-saved events, in order."""
    return [
        event_id_for(e.originator_id, e.originator_version)
        for aggregate in aggregates
        if not isinstance(aggregate, Bookkeeping)
        for e in aggregate.pending_events
    ]
