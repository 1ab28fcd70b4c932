"""The eventsourcing Application every organisation service builds on.

It stores pydantic events as orjson bytes (eventsourcing's `aggregate8` pattern: one
serialisation path), names itself after its organisation (so PostgreSQL tables do not
collide), and executes partner commands idempotently: a command carrying the partner's
`record_id` is saved atomically with an `ImportedRecord`, so sending it again changes nothing.

An extract's rows are executed together (`execute_all`): decided in order against a staging
view of the repository, and saved in one transaction, since one durable commit per row was
most of the import's time (bench/findings.md, "Bulk import"). Every row still has its own
outcome, exactly as if the rows had been executed one after another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    PersistenceError,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from contracts import constraints
from contracts.topology import Organisation
from runtime.store import application_name
from services.domain.aggregates import (
    Aggregate,
    Bookkeeping,
    DomainError,
    ImportedRecord,
    event_id_for,
)
from services.domain.command import Command

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


def new_shared_event_ids(changed: list[Aggregate], reported: dict[UUID, int]) -> list[UUID]:
    """Ids the relay will publish for the aggregates' pending events not yet `reported` (how
    many of each aggregate's pending events are already accounted for; updated here)."""
    event_ids: list[UUID] = []
    for aggregate in changed:
        pending = aggregate.pending_events
        already, reported[aggregate.id] = reported.get(aggregate.id, 0), len(pending)
        if not isinstance(aggregate, Bookkeeping):
            event_ids += (
                event_id_for(e.originator_id, e.originator_version) for e in pending[already:]
            )
    return event_ids


Result = Outcome | DomainError | PersistenceError
"""What one command of `execute_all` came to: its outcome, the refusal, or the store's error."""

@lru_cache(maxsize=4_096)
def checked_record_id(record_id: str) -> str:
    """`constraints.record_id`, remembered: a request checks each row's id when it looks the
    rows up, decides them and notes what it saved (~10 µs each time for an id with digits)."""
    return constraints.record_id(record_id)


LOOKUP_CHUNK = 500
"""Ids per `IN (...)` of `stored_ids` (well under SQLite's limit on bound parameters)."""


def stored_ids(recorder: Any, ids: Iterable[UUID]) -> set[UUID] | None:
    """Which of `ids` have stored events, in one query per `LOOKUP_CHUNK` ids; None if the
    recorder is not SQL (the caller then looks each id up on its own)."""
    datastore = getattr(recorder, "datastore", None)
    table = getattr(recorder, "events_table_name", None)
    if datastore is None or table is None:
        return None
    sqlite = isinstance(datastore, SQLiteDatastore)
    if not sqlite:
        table = f'"{datastore.schema}"."{table}"'
    wanted, found = list(dict.fromkeys(ids)), set()
    with datastore.transaction(commit=False) as cursor:
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            if sqlite:
                marks = ", ".join("?" * len(chunk))
                cursor.execute(
                    f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id IN ({marks})",
                    [i.hex for i in chunk],
                )
            else:
                cursor.execute(
                    f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id = ANY(%s)",
                    (chunk,),
                )
            found.update(UUID(str(row["originator_id"])) for row in cursor.fetchall())
    return found


class StagingRepository:
    """The application's repository; while a thread is staging, the aggregates it changed and
    has not saved yet are found first (with their pending events). Other threads (the relay,
    a single command) never see another thread's staged aggregates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._local = threading.local()

    @contextmanager
    def staging(self) -> Iterator[dict[UUID, Aggregate]]:
        self._local.staged = staged = {}
        try:
            yield staged
        finally:
            self._local.staged = None

    def is_staged(self, aggregate_id: UUID) -> bool:
        """Whether this thread has `aggregate_id` staged (changed, not saved yet)."""
        return aggregate_id in (getattr(self._local, "staged", None) or ())

    def get(self, aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        staged = getattr(self._local, "staged", None)
        if staged and not args and not kwargs and aggregate_id in staged:
            return staged[aggregate_id]
        return self.inner.get(aggregate_id, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


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

    def construct_repository(self) -> Any:
        return StagingRepository(super().construct_repository())

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """eventsourcing's `save`, but our aggregates' pending events are collected without its
        runtime `Protocol` checks (Python 3.11 walks the protocol's attributes on every
        `isinstance`: ~25 µs an aggregate, half an import's save; bench/findings.md)."""
        if not all(isinstance(obj, Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events += aggregate.collect_events()
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    @classmethod
    def commands(cls) -> list[type[Command]]:
        return list(cls._handlers)

    def execute(self, command: Command, record_id: str | None = None) -> Outcome:
        """Apply one command; with a `record_id` the second identical send is a no-op."""
        outcome, changed = self._decide(command, record_id)
        if changed:
            self._save(command, changed)
        return outcome

    def execute_all(self, commands: Sequence[tuple[Command, str | None]]) -> list[Result]:
        """Each (command, record_id) in order, with the outcome `execute` would give it, saved
        together: the accepted commands up to a refused one share one transaction.

        Which record_ids were never imported is read in one query for the whole request, not
        one per row (a fresh import looks each one up only to find nothing).
        A refused command may have changed staged aggregates half-way, so its staging is
        dropped: the commands before it are decided again and saved, and it is run alone for
        its own error. A save the store refuses (another writer got there first, a full disk)
        is redone command by command, so every command still has its own outcome."""
        results: list[Result] = []
        unrecorded = self._unrecorded(record_id for _, record_id in commands)
        while len(results) < len(commands):
            rest = commands[len(results) :]
            outcomes, changed, refused = self._decide_together(rest, unrecorded)
            while refused and outcomes:
                outcomes, changed, refused = self._decide_together(
                    rest[: len(outcomes)], unrecorded
                )
            done = rest[: max(len(outcomes), 1)]
            if not outcomes:
                results.append(self._execute_alone(*rest[0]))
            else:
                try:
                    if changed:
                        self.save(*changed)
                    results += outcomes
                except PersistenceError:
                    results += [self._execute_alone(c, r) for c, r in done]
            unrecorded.difference_update(self._record_keys(r for _, r in done))
        return results

    def _record_keys(self, record_ids: Iterable[str | None]) -> Iterator[UUID]:
        """The ImportedRecord ids of the valid `record_ids` (the invalid are refused later)."""
        for record_id in record_ids:
            if record_id is not None:
                try:
                    yield ImportedRecord.create_id(self.org.code, checked_record_id(record_id))
                except ValueError:
                    continue

    def _unrecorded(self, record_ids: Iterable[str | None]) -> set[UUID]:
        """The ImportedRecord ids of `record_ids` that the store holds nothing under."""
        keys = set(self._record_keys(record_ids))
        stored = stored_ids(self.recorder, keys) if keys else set()
        return set() if stored is None else keys - stored

    def _decide_together(
        self, commands: Sequence[tuple[Command, str | None]], unrecorded: set[UUID]
    ) -> tuple[list[Outcome], list[Aggregate], bool]:
        """Decide commands in order against a staging view until one is refused; returns the
        outcomes before it, every staged aggregate, and whether one was refused."""
        outcomes: list[Outcome] = []
        reported: dict[UUID, int] = {}
        with self.repository.staging() as staged:
            for command, record_id in commands:
                try:
                    outcome, changed = self._decide(command, record_id, reported, unrecorded)
                except (DomainError, PersistenceError):
                    return outcomes, list(staged.values()), True
                staged.update((aggregate.id, aggregate) for aggregate in changed)
                outcomes.append(outcome)
            return outcomes, list(staged.values()), False

    def _execute_alone(self, command: Command, record_id: str | None) -> Result:
        try:
            return self.execute(command, record_id)
        except (DomainError, PersistenceError) as exc:
            return exc

    def _decide(
        self,
        command: Command,
        record_id: str | None,
        reported: dict[UUID, int] | None = None,
        unrecorded: set[UUID] | None = None,
    ) -> tuple[Outcome, list[Aggregate]]:
        """The command's outcome and the aggregates it changed (unsaved); raises if refused.

        `reported`: how many pending events of each staged aggregate earlier commands caused,
        so that each command reports only the events it caused. `unrecorded`: ImportedRecord
        ids known to hold nothing in the store (not looked up again unless staged)."""
        if record_id is not None:
            try:
                record_id = checked_record_id(record_id)
            except ValueError as exc:
                raise DomainError(f"{command.name}: field record_id: {exc}") from None
            key = ImportedRecord.create_id(self.org.code, record_id)
            if unrecorded is None or key not in unrecorded or self.repository.is_staged(key):
                previous = self.find(ImportedRecord, key)
                if previous is not None:
                    return self._replay(previous, command), []
        handler = self._handlers.get(type(command))
        if handler is None:
            raise DomainError(f"{command.name}: not a command of {self.org.kind.value} services")
        changed: list[Aggregate] = list(getattr(self, handler)(command))
        event_ids = new_shared_event_ids(changed, {} if reported is None else reported)
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
        return Outcome(event_ids), changed

    def _save(self, command: Command, changed: list[Aggregate]) -> None:
        try:
            self.save(*changed)
        except IntegrityError:
            raise DomainError(
                f"{command.name}: the same record was changed at the same time by another "
                "command; send it again"
            ) from None

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
