"""The cohort fold: which recipients an event is delivered to, by which clause. No I/O.

`apply(state, seq, envelope)` folds one event (in SEND_EVENTS order) into the cohort state and
returns what changed: the deliveries it causes and the membership changes the store records in
the same transaction. Membership is updated before delivery, so the event that puts a person in
a cohort (a health flag naming the LA responsible) is itself delivered when the clause covers
it. Deterministic and free of I/O, but the state is updated in place: the fold runs for every
event of the history, and copying the state per event would dominate the cost.

Rules (`contracts.agreements` says them in words):
- a recipient never receives its own events;
- a recipient's `person.erased` takes the person out of every cohort of that recipient;
- `mentioned`: any event of the recipient's own about the person adds them;
- `caseload`: the recipient's own `caseload_from` events add, `caseload_until` events remove;
- `la_area`: an event whose responsible-LA field (`runtime.ownership.RESPONSIBLE_LA_FIELDS`)
  names the recipient adds the person;
- `everyone`: every person is a member;
- an event a clause covers, about a person not (yet) in its cohort, is held when the clause has
  `include_earlier` and released (delivered) when the person joins.

`Needed` says, from (source, type) alone, which events these rules can act on: every other event
changes no cohort and is delivered to no one, so the runner skips it before decoding
(`FeedStore.needs_subject`); decoding is most of the fold's cost, and under the demo agreement
about two events in three are of no clause's concern.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.agreements import Agreement, Clause, Cohort, source_orgs
from contracts.envelope import Envelope
from contracts.sealing import ERASURE_TYPE
from contracts.subjects import event_subject
from contracts.topology import Organisation
from runtime.ownership import RESPONSIBLE_LA_FIELDS


@dataclass(frozen=True)
class Delivery:
    """One event delivered to one recipient under one clause."""

    recipient: str
    clause_id: str
    seq: int
    event_id: str
    subject: str
    """The event's SEND_EVENTS subject (the feed subject is derived from it)."""


@dataclass(frozen=True)
class Held:
    clause_id: str
    person_key: str
    seq: int
    event_id: str
    subject: str


@dataclass
class Changes:
    deliveries: list[Delivery] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)
    """(clause id, person key) that joined a cohort."""
    left: list[tuple[str, str]] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    released: list[tuple[str, str]] = field(default_factory=list)
    """(clause id, person key) whose held events were delivered (and are no longer held)."""


@dataclass(frozen=True)
class CompiledClause:
    clause: Clause
    sources: frozenset[str]

    @property
    def id(self) -> str:
        return self.clause.id


@dataclass(frozen=True)
class Needed:
    """The (source, type) of every event some rule of `_joins` or a clause's delivery reads."""

    any_type_from: frozenset[str]
    """Recipients of `mentioned` clauses: any event of theirs adds the person."""
    from_anyone: frozenset[str]
    """Types whose responsible-LA field can add a person to an `la_area` cohort."""
    pairs: frozenset[tuple[str, str]]
    """(source, type): erasures and caseload events of recipients, and what clauses deliver."""

    @classmethod
    def of(cls, clauses: Iterable[CompiledClause]) -> Needed:
        own: set[str] = set()
        anyone: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for compiled in clauses:
            clause = compiled.clause
            pairs.add((clause.recipient, ERASURE_TYPE))
            pairs.update((clause.recipient, t)
                         for t in (*clause.caseload_from, *clause.caseload_until))
            pairs.update((source, t) for source in compiled.sources for t in clause.events)
            if clause.cohort is Cohort.MENTIONED:
                own.add(clause.recipient)
            elif clause.cohort is Cohort.LA_AREA:
                anyone.update(RESPONSIBLE_LA_FIELDS)
        return cls(frozenset(own), frozenset(anyone), frozenset(pairs))

    def __call__(self, source_org: str, event_type: str) -> bool:
        return (source_org in self.any_type_from or event_type in self.from_anyone
                or (source_org, event_type) in self.pairs)


@dataclass
class CohortState:
    """Members and held events of each clause of one agreement."""

    clauses: tuple[CompiledClause, ...]
    members: dict[str, set[str]] = field(default_factory=dict)
    held: dict[str, dict[str, list[Held]]] = field(default_factory=dict)
    needs: Needed = field(init=False)

    def __post_init__(self) -> None:
        self.needs = Needed.of(self.clauses)

    @classmethod
    def of(cls, agreement: Agreement, partnership: Iterable[Organisation]) -> CohortState:
        orgs = tuple(partnership)
        compiled = tuple(
            CompiledClause(c, frozenset(o.code for o in source_orgs(c, orgs)))
            for c in agreement.clause
        )
        return cls(
            compiled,
            members={c.id: set() for c in compiled},
            held={c.id: defaultdict(list) for c in compiled},
        )

    def add_member(self, clause_id: str, person: str) -> None:
        self.members[clause_id].add(person)

    def add_held(self, held: Held) -> None:
        self.held[held.clause_id][held.person_key].append(held)


def _joins(clause: Clause, envelope: Envelope) -> bool | None:
    """True: the event puts the person in the cohort; False: takes them out; None: neither."""
    recipient = clause.recipient
    own = envelope.source_org == recipient
    if own and envelope.type == ERASURE_TYPE:
        return False
    if clause.cohort is Cohort.MENTIONED:
        return True if own else None
    if clause.cohort is Cohort.CASELOAD:
        if own and envelope.type in clause.caseload_from:
            return True
        if own and envelope.type in clause.caseload_until:
            return False
        return None
    if clause.cohort is Cohort.LA_AREA:
        named = RESPONSIBLE_LA_FIELDS.get(envelope.type)
        if named is not None and getattr(envelope.payload, named, None) == recipient:
            return True
        return None
    return None


def apply(state: CohortState, seq: int, envelope: Envelope) -> Changes:
    """Fold one event; the deliveries and membership changes it causes."""
    changes = Changes()
    person = envelope.person_key
    subject = event_id = ""  # formatted once, for the first delivery or hold
    for compiled in state.clauses:
        clause = compiled.clause
        members = state.members[clause.id]
        joins = _joins(clause, envelope)
        if joins is True and person not in members:
            members.add(person)
            changes.joined.append((clause.id, person))
            earlier = state.held[clause.id].pop(person, None)
            if earlier:
                changes.released.append((clause.id, person))
                changes.deliveries.extend(
                    Delivery(clause.recipient, clause.id, h.seq, h.event_id, h.subject)
                    for h in earlier
                )
        elif joins is False and person in members:
            members.discard(person)
            changes.left.append((clause.id, person))
        if envelope.source_org not in compiled.sources or envelope.type not in clause.events:
            continue
        if not subject:
            subject = event_subject(envelope.source_org, envelope.type, person)
            event_id = str(envelope.event_id)
        if clause.cohort is Cohort.EVERYONE or person in members:
            changes.deliveries.append(
                Delivery(clause.recipient, clause.id, seq, event_id, subject)
            )
        elif clause.include_earlier:
            held = Held(clause.id, person, seq, event_id, subject)
            state.held[clause.id][person].append(held)
            changes.held.append(held)
    return changes
