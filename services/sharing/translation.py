"""Stored events -> shared contract events, the part every service kind does the same way.

A kind's translator maps each of its stored event classes to a builder returning the contract
payload and the date it happened (the envelope's `occurred_at`); stored events the map does not
name are bookkeeping and never shared. The person is named only by the partnership's keyed
pseudonym of their NHS number. Builders read only the stored event, so translation is a pure
function of what was stored.

The relay hands a translator every stored event in log order, so it learns whose record each
aggregate is from the events themselves (a person's `Registered` carries the NHS number, an
aggregate created for a person carries `person_id`) and reads the store only on a miss: after a
restart mid-log, or once the bounded memory (a `cachetools.LRUCache`) has let an old aggregate go.
Rebuilding aggregates for every event was 80% of the relay's time (bench/findings.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import UUID

from cachetools import LRUCache

from contracts.envelope import Envelope, Payload
from contracts.person import PersonErased, PersonRegistered
from services.domain.identity import birth_month, person_key
from services.domain.people import PeopleApplication, RegisteredPerson
from services.sharing.relay import Stamp

REMEMBERED = 200_000
"""Aggregates a translator remembers (about 200 bytes each: ~40 MiB at most). A partnership has
tens of thousands of people; past this the least recently used are read back from the store."""

Build = Callable[[Any], tuple[Payload, date | None]]
"""stored event -> (contract payload, the date it happened in the world, if it has one)."""


def on(day: date) -> datetime:
    """A statutory date as the instant it began (UTC): the envelope's `occurred_at`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def person_registered(e: RegisteredPerson.Registered) -> tuple[Payload, None]:
    """Only the birth month leaves the organisation (never the full date or the name)."""
    return PersonRegistered(birth_month=birth_month(e.born_on)), None


def person_erased(e: Any) -> tuple[Payload, date]:
    """The erasure, with no personal data: when and why (the relay deletes the key)."""
    return PersonErased(erased_on=e.erased_on, reason=e.reason), e.erased_on


class Translator:
    """The relay's translate function for one kind: subclasses set `builders`."""

    builders: ClassVar[dict[type, Build]] = {}

    def __init__(
        self, app: PeopleApplication, partnership_key: bytes, *, remember: int = REMEMBERED
    ) -> None:
        self.app = app
        self.partnership_key = partnership_key
        self._person_keys: LRUCache[UUID, str] = LRUCache(maxsize=remember)

    def learn(self, event: Any) -> None:
        """Remember whose record the event's aggregate is, if the event says so."""
        if isinstance(event, RegisteredPerson.Registered):
            key = person_key(event.nhs_number, self.partnership_key)
            self._person_keys[event.originator_id] = key
        elif (owner := getattr(event, "person_id", None)) is not None:
            if (key := self._person_keys.get(owner)) is not None:
                self._person_keys[event.originator_id] = key

    def person_key(self, aggregate_id: UUID) -> str:
        """The pseudonym of whoever the aggregate is about: learnt, or read from the store."""
        key = self._person_keys.get(aggregate_id)
        if key is None:
            key = self.app.person_key_of(aggregate_id, self.partnership_key)
            self._person_keys[aggregate_id] = key
        return key

    def __call__(self, event: Any, stamp: Stamp) -> Envelope | None:
        build = self.builders.get(type(event))
        if build is None:
            return None  # bookkeeping: stored, never shared
        self.learn(event)
        payload, happened_on = build(event)
        return stamp.wrap(
            payload,
            person_key=self.person_key(event.originator_id),
            occurred_at=on(happened_on) if happened_on else event.timestamp,
            correlation_id=event.originator_id,
        )
