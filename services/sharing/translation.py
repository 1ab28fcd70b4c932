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

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, ClassVar
from uuid import UUID

from cachetools import LRUCache

from contracts import disagreement
from contracts.constraints import EARLIEST
from contracts.envelope import Envelope, Payload
from contracts.person import PersonErased, PersonRegistered
from services.domain.complaints import Complaint
from services.domain.identity import birth_month, person_key
from services.domain.people import PeopleApplication, RegisteredPerson
from services.sharing.relay import Stamp

REMEMBERED = 200_000
"""Aggregates a translator remembers (about 200 bytes each: ~40 MiB at most). A partnership has
tens of thousands of people; past this the least recently used are read back from the store."""

Build = Callable[[Any, Any], tuple[Payload, date | None]]
"""(stored event, what the translator knows of its aggregate beyond the event, e.g. an LA case's
references) -> (contract payload, the date it happened in the world, if it has one)."""


def on(day: date) -> datetime:
    """A statutory date as the instant it began (UTC): the envelope's `occurred_at`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def person_registered(e: RegisteredPerson.Registered, _: Any = None) -> tuple[Payload, date]:
    """Only the birth month leaves the organisation (never the full date or the name).

    Who the person is (their key, their birth month) holds from birth, so the registration is
    dated at the start of the shared history (`EARLIEST`): a replay as of any moment keeps the
    person, however late the organisation registered them. Not their birth month itself: that is
    sealed personal data, and the envelope's header travels in clear and outlives erasure."""
    return PersonRegistered(birth_month=birth_month(e.born_on)), EARLIEST


def person_erased(e: Any, _: Any = None) -> tuple[Payload, date]:
    """The erasure, with no personal data: when and why (the relay deletes the key)."""
    return PersonErased(erased_on=e.erased_on, reason=e.reason), e.erased_on


def _recorded(stored: type) -> set[str]:
    """The fields a stored event class records (its `@event` method's arguments)."""
    return {name for cls in stored.__mro__ for name in getattr(cls, "__annotations__", {})}


@cache
def _names_person(stored: type) -> bool:
    """Whether the stored event class records a `person_id`: asked once per class, because
    asking a pydantic event for a field it lacks raises and catches inside pydantic (a fifth
    of translating, once per event)."""
    return "person_id" in _recorded(stored)


class Copy:
    """A builder deriving the contract payload from the stored event: each of the payload's
    fields is the stored event's attribute of the same name, so a field added to the contract,
    the command and the aggregate needs no change here. A field the stored event does not
    record is taken from what the translator knows (`known`, e.g. an LA case's `case_id`);
    a payload field found in neither is refused when the translator is defined, not when the
    first event is shared."""

    def __init__(
        self, stored: type, payload: type[Payload], happened: str, known: Iterable[str] = ()
    ) -> None:
        recorded, known = _recorded(stored), tuple(known)
        fields = tuple(payload.model_fields)
        unmapped = [f for f in fields if f not in recorded and f not in known]
        unmapped += [happened] if happened not in recorded else []
        if unmapped:
            raise TypeError(
                f"{stored.__qualname__} -> {payload.__name__}: the stored event records no "
                f"{', '.join(unmapped)}"
            )
        self.stored, self.payload, self.happened = stored, payload, happened
        self.copied = tuple(f for f in fields if f in recorded)
        self.known = tuple(f for f in fields if f not in recorded)
        """The fields the translator supplies (an attribute each of what it knows)."""

    def __call__(self, event: Any, known: Any = None) -> tuple[Payload, date | None]:
        fields = {name: getattr(event, name) for name in self.copied}
        for name in self.known:
            fields[name] = getattr(known, name)
        return self.payload(**fields), getattr(event, self.happened)


def kind_builders(person_type: type[RegisteredPerson], *copied: Copy) -> dict[type, Build]:
    """A kind's `Translator.builders`: its people's registration and erasure, as in every kind,
    and the kind's own events, by the stored event class each is copied from."""
    return {
        person_type.Registered: person_registered,
        RegisteredPerson.Erased: person_erased,
        **{builder.stored: builder for builder in copied},
    }


COMPLAINTS: tuple[Copy, ...] = (
    Copy(Complaint.ComplaintReceived, disagreement.ComplaintReceived, "received_on"),
    Copy(Complaint.ComplaintResolved, disagreement.ComplaintResolved, "resolved_on"),
)
"""The complaints of the kinds that receive them (`services.domain.complaints`)."""


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
        elif _names_person(type(event)) and (owner := event.person_id) is not None:
            if (key := self._person_keys.get(owner)) is not None:
                self._person_keys[event.originator_id] = key

    def person_key(self, aggregate_id: UUID) -> str:
        """The pseudonym of whoever the aggregate is about: learnt, or read from the store."""
        key = self._person_keys.get(aggregate_id)
        if key is None:
            key = self.app.person_key_of(aggregate_id, self.partnership_key)
            self._person_keys[aggregate_id] = key
        return key

    def known(self, event: Any) -> Any:
        """What a builder needs beyond the stored event (`Copy.known`); none by default."""
        return None

    def __call__(self, event: Any, stamp: Stamp) -> Envelope | None:
        build = self.builders.get(type(event))
        if build is None:
            return None  # bookkeeping: stored, never shared
        self.learn(event)
        payload, happened_on = build(event, self.known(event))
        return stamp.wrap(
            payload,
            person_key=self.person_key(event.originator_id),
            occurred_at=on(happened_on) if happened_on else event.timestamp,
            correlation_id=event.originator_id,
        )
