"""How the per-person store turns fact rows into SQL values and remembers people: each row as
the columns declare it (dates as ISO text, booleans as 0/1, None kept), and at most the people
it was told to keep, the least recently written out first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from projections.dataset.fold import EMPTY, Placement, evolve
from projections.readmodel.people import KnownPeople, KnownPerson
from projections.readmodel.tables import FactTable


@dataclass(frozen=True)
class Visit:
    person_key: str
    visited_on: date
    until: date | None
    in_person: bool
    kept: bool | None
    minutes: int


VISITS = FactTable("visits", Visit, ("person_key", "visited_on"))


def test_a_row_is_stored_as_its_columns_declare() -> None:
    # given a row with a date, a missing date, booleans and a number
    row = Visit("p_1", date(2025, 3, 4), None, True, None, 45)
    # when it is converted for SQL
    values = VISITS.to_sql(row)
    # then dates are ISO text, booleans 0/1, None stays None, and it reads back as the same row
    assert values == ("p_1", "2025-03-04", None, 1, None, 45)
    raw = (row.person_key, row.visited_on, row.until, row.in_person, row.kept, row.minutes)
    assert values == tuple(c.to_sql(v) for c, v in zip(VISITS.columns, raw, strict=True))
    assert VISITS.from_sql(values) == row


def test_a_table_without_dates_or_booleans_stores_the_values_as_they_are() -> None:
    @dataclass(frozen=True)
    class Note:
        person_key: str
        words: int

    assert FactTable("notes", Note, ("person_key",)).to_sql(Note("p_1", 3)) == ("p_1", 3)


def test_evolving_a_state_keeps_the_unchanged_parts_and_refuses_an_unknown_field() -> None:
    # given a placement
    placement = Placement(la_code="856", tier=2)
    # when one field changes
    ended = evolve(placement, ended_on=date(2025, 7, 1))
    # then the others are the same objects, and the original is untouched
    assert ended == Placement(la_code="856", tier=2, ended_on=date(2025, 7, 1))
    assert placement.ended_on is None
    # and a misspelt field is an error naming it, not a silent new attribute
    with pytest.raises(TypeError, match=r"PersonState has no field \['plan'\]"):
        evolve(EMPTY, plan={})


def test_the_store_remembers_at_most_its_bound_the_least_recently_written_out_first() -> None:
    # given room for two people
    people = KnownPeople(max_people=2)
    known = KnownPerson(count=1, last=(1,), state=EMPTY, facts={})
    # when amira, ben, amira again and then cara are written
    for person in ("amira", "ben", "amira", "cara"):
        people.put(person, known)
    # then ben, written least recently, is the one forgotten
    assert (people.get("amira"), people.get("ben"), people.get("cara")) == (known, None, known)
    assert len(people) == 2
