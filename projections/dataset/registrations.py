"""Who registered a person, with which birth month, and which birth month the read models use.

Why per organisation: a registration is the registering organisation's claim about the person,
and every organisation is controller of its own claims. A second organisation's registration
never overwrites the first's (a school that registers another LA's 21-year-old as born in 2016
does not make them 10), and organisations that disagree are a data-quality discrepancy, shown
as such (`birth_month_conflicts`, `/api/data-quality/birth-months`), never silently resolved.

The rule the read models take the birth month by (`birth_month_of`):
1. the birth month registered by the person's responsible LA (`facts.home_la`: the LA of their
   plan, request, health flag or AP placement), if it registered one;
2. otherwise the earliest registration (in history order) that still has a birth month.
An organisation that erased the person no longer has one (`contracts.sealing.forget_erased`),
so its claim drops out and the rule falls to the next. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BirthMonths = Mapping[str, str | None]
"""Registering organisation -> the birth month it registered (None once it erased the person),
in history order of each organisation's first registration."""


@dataclass(frozen=True)
class BirthMonthConflictFact:
    """One organisation's registered birth month, for a person whose registrations disagree."""

    person_key: str
    org: str
    birth_month: str


def registered(months: BirthMonths, org: str, birth_month: str | None) -> BirthMonths:
    """`months` after `org` registers the person: its first birth month stands."""
    if months.get(org) is not None or (org in months and birth_month is None):
        return months
    return {**months, org: birth_month}


def birth_month_of(months: BirthMonths, home_la: str | None) -> str | None:
    """The birth month the read models use (the rule in the module docstring)."""
    if home_la is not None and months.get(home_la) is not None:
        return months[home_la]
    return next((month for month in months.values() if month is not None), None)


def conflicts(person: str, months: BirthMonths) -> Iterable[BirthMonthConflictFact]:
    """Every registration of a person whose organisations registered different birth months."""
    known = {org: month for org, month in months.items() if month is not None}
    if len(set(known.values())) < 2:
        return
    for org, month in sorted(known.items()):
        yield BirthMonthConflictFact(person, org, month)
