"""What the store remembers of the people it wrote last: their fold state and the fact rows it
wrote for them. Bounded, least recently used out.

Why: with it, an event that sorts after a person's last one costs one fold step and a diff of
their facts, instead of re-reading, re-decoding and re-folding their whole stored history and
rewriting every fact table (`store.py`). An entry is only used while it still describes what
is stored: the store checks `count` against the number of events stored for the person in the
same transaction (events are only ever added, and an erasure adds `person.erased`), and it is
updated only after a batch commits; so another writer, or an entry dropped for memory, just
means a miss, and a miss reads the stored history as before. Erased people are never kept, so
their personal fields do not linger in memory.

Why no decoded history. Keeping each person's decoded events (~2.7 KB each, many small objects)
made Python's cyclic garbage collector walk millions of objects, and meant a small cache at
national scale. Only an event that arrives out of history order needs the history (~10% of
the partnership population's events), and it is read back from the store for that person.

Size. A remembered person is ~3.2 KB (state and fact rows, measured with `tracemalloc` over the
partnership population's first 100,000 events, dataset and tracker alike), so the default
`KNOWN_PEOPLE` holds ~0.8 GB at most: under the 2 GiB a projection may use at national scale,
where it is about a quarter of the ~1.1 M people (640,000 plans; 1.76 people per plan in the
partnership population), and every person of a partnership (~40,000). A miss costs what every
batch cost before: reading and decoding that person's stored events.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple

KNOWN_PEOPLE = 250_000
"""People whose fold state and fact rows are kept (~3.2 KB each)."""

FactValues = Mapping[str, tuple[tuple[Any, ...], ...]]
"""A person's fact rows as stored (`FactTable.to_sql`), by table name."""


class KnownPerson(NamedTuple):
    """One person as the store last wrote them (a named tuple: one is made per person a batch
    touches, and a tuple is made in a third of the time of a frozen dataclass)."""

    count: int
    """How many events are stored for them: the entry is valid only while this still holds."""
    last: Any
    """The order key of their last event in history order."""
    state: Any
    """`derivation.fold(their stored events)`."""
    facts: FactValues
    """The fact rows stored for them: `derivation.facts(person, state)`, as SQL values."""


class KnownPeople:
    """An LRU of `KnownPerson` by person key, holding at most `max_people`."""

    def __init__(self, max_people: int = KNOWN_PEOPLE) -> None:
        self.max_people = max_people
        self._people: OrderedDict[str, KnownPerson] = OrderedDict()

    def get(self, person: str) -> KnownPerson | None:
        return self._people.get(person)

    def put(self, person: str, known: KnownPerson) -> None:
        """Remember `known` as the most recently used; the least recently used go over the bound."""
        people = self._people
        if self.max_people < 1:
            people.pop(person, None)
            return
        people[person] = known
        people.move_to_end(person)
        while len(people) > self.max_people:
            people.popitem(last=False)

    def forget(self, person: str) -> None:
        self._people.pop(person, None)

    def clear(self) -> None:
        self._people.clear()

    def __len__(self) -> int:
        return len(self._people)
