"""Data-quality discrepancies the dataset shows rather than resolves: people whose registering
organisations disagree about their birth month (`registrations.py`).

Person-level: served to authorised users only, each reader seeing the people its own events
mention (`projections.access.policy`), like the other person-level lists.
"""

from __future__ import annotations

from itertools import groupby

from pydantic import BaseModel, Field

from projections.dataset.publishing import DatasetReadModel


class BirthMonthClaim(BaseModel):
    org: str = Field(description="The organisation that registered the person.")
    birth_month: str = Field(description="The birth month it registered, YYYY-MM.")


class BirthMonthDiscrepancy(BaseModel):
    person_key: str
    registrations: list[BirthMonthClaim] = Field(
        description="Every organisation's registered birth month, where they are not all equal."
    )


class BirthMonthDiscrepancies(BaseModel):
    as_at_stream_sequence: int
    rule: str = Field(description="Which birth month the read models use meanwhile.")
    people: list[BirthMonthDiscrepancy]


RULE = (
    "The read models take the birth month registered by the person's responsible LA (the LA of "
    "their plan, request, health flag or AP placement); without one, the earliest registration "
    "that still has a birth month. No organisation's registration overwrites another's."
)


def birth_month_discrepancies(read_model: DatasetReadModel) -> BirthMonthDiscrepancies:
    """Every person whose organisations registered different birth months, and who said what."""
    with read_model.snapshot() as snapshot:
        position = snapshot.position()
        rows = sorted(snapshot.rows("birth_month_conflicts"),
                      key=lambda r: (r.person_key, r.org))
    people = [
        BirthMonthDiscrepancy(
            person_key=person,
            registrations=[BirthMonthClaim(org=r.org, birth_month=r.birth_month) for r in claims],
        )
        for person, claims in groupby(rows, key=lambda r: r.person_key)
    ]
    return BirthMonthDiscrepancies(as_at_stream_sequence=position, rule=RULE, people=people)
