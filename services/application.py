"""The eventsourcing Application every organisation service builds on.

It stores pydantic events as orjson bytes (eventsourcing's `aggregate8` pattern: one
serialisation path), names itself after its organisation (so PostgreSQL tables do not
collide), and executes partner commands idempotently: a command carrying the partner's
`record_id` is saved atomically with an `ImportedRecord`, so sending it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from contracts.topology import Organisation
from services.aggregates import Aggregate, DomainError, ImportedRecord, pending_shared_event_ids
from services.command import Command
from services.store import application_name

A = TypeVar("A", bound=Aggregate)
C = TypeVar("C", bound=Command)
Handler = Callable[[Any, Any], Iterable[Aggregate]]


class PydanticMapper(Mapper):
    """Stored event state = the pydantic event's fields as orjson bytes (then the cipher).

    Versioned the eventsourcing way: an event class with `class_version = N` stores its
    version, and an older stored state is lifted by the class's `upcast_v1_v2`, ... methods.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = cast(BaseModel, domain_event).model_dump()
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            fields["class_version"] = class_version
        state = self.transcoder.encode(fields)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored: StoredEvent) -> Any:
        state = stored.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        cls, fields = resolve_topic(stored.topic), self.transcoder.decode(state)
        version, target = fields.pop("class_version", 1), getattr(cls, "class_version", 1)
        while version < target:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(fields)
            version += 1
        return cls(**fields)


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)

    def register(self, transcoding: Transcoding) -> None:
        raise NotImplementedError("events are pydantic models; no transcodings needed")


@dataclass(frozen=True)
class Outcome:
    """What a command produced: the ids of the shared events it caused (in order)."""

    event_ids: list[UUID] = field(default_factory=list)
    duplicate: bool = False


def handles(command_type: type[C]) -> Callable[[Callable[[Any, C], Iterable[Aggregate]]], Handler]:
    """Mark an application method as the one that decides what `command_type` changes."""

    def mark(method: Callable[[Any, C], Iterable[Aggregate]]) -> Handler:
        method._handles = command_type  # type: ignore[attr-defined]
        return method

    return mark


class OrganisationApplication(Application):
    """One organisation's store. Subclasses add `@handles(Command)` methods that return the
    aggregates they changed (unsaved); `execute` saves them in one transaction."""

    _handlers: dict[type[Command], str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {
            **cls._handlers,
            **{fn._handles: name for name, fn in vars(cls).items() if hasattr(fn, "_handles")},
        }

    def __init__(self, org: Organisation, env: dict[str, str] | None = None) -> None:
        self.org = org
        self.name = application_name(org)
        super().__init__(env)

    def construct_mapper(self) -> Mapper:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PydanticMapper
        )

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    @classmethod
    def commands(cls) -> list[type[Command]]:
        return list(cls._handlers)

    def execute(self, command: Command, record_id: str | None = None) -> Outcome:
        """Apply one command; with a `record_id` the second identical send is a no-op."""
        if record_id is not None:
            previous = self.find(ImportedRecord, ImportedRecord.create_id(self.org.code, record_id))
            if previous is not None:
                return self._replay(previous, command)
        handler = self._handlers.get(type(command))
        if handler is None:
            raise DomainError(f"{command.name}: not a command of {self.org.kind.value} services")
        changed: list[Aggregate] = list(getattr(self, handler)(command))
        event_ids = pending_shared_event_ids(changed)
        if record_id is not None:
            changed.append(
                ImportedRecord(
                    org=self.org.code,
                    record_id=record_id,
                    command=command.name,
                    fingerprint=command.fingerprint(),
                    event_ids=event_ids,
                )
            )
        try:
            self.save(*changed)
        except IntegrityError:
            raise DomainError(
                f"{command.name}: the same record was changed at the same time by another "
                "command; send it again"
            ) from None
        return Outcome(event_ids)

    def _replay(self, previous: ImportedRecord, command: Command) -> Outcome:
        if previous.fingerprint != command.fingerprint():
            raise DomainError(
                f"record_id {previous.record_id} was already imported as a different "
                f"{previous.command} row; give every new row its own record_id"
            )
        return Outcome(list(previous.event_ids), duplicate=True)

    def find(self, aggregate_type: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None if nothing was ever recorded under that id."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, aggregate_type):
            raise DomainError(
                f"{aggregate_id} is a {type(aggregate).__name__}, not a {aggregate_type.__name__}"
            )
        return aggregate
