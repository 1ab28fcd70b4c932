"""What the tracker API publishes person by person (for authorised users); the suppressed
summary is indicator 7 (`projections.dataset.indicators.transition_tracker`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class MilestoneRow(BaseModel):
    milestone: str = Field(description="Milestone id, e.g. named_worker.")
    title: str
    owner: str = Field(description="Code of the owning organisation, or `unknown`.")
    owner_role: str = Field(description="Who owns it in the NG43 table, e.g. `LA or ICB`.")
    due_rule: str
    due_on: date
    done_on: date | None = Field(description="When done (for yearly ones: the last time).")
    rag: str = Field(description="red, amber or green as of the as-of date.")


class TrackedPerson(BaseModel):
    person_key: str
    la: str | None = Field(description="The person's LA (see the dataset's definition).")
    birth_month: str
    age: int = Field(description="Age on the as-of date, birthdays taken as the month's last day.")
    rag: str = Field(description="Worst of the milestones.")
    overdue_owners: list[str] = Field(description="Owners of the red milestones.")
    milestones: list[MilestoneRow]


class TrackerRows(BaseModel):
    as_of: date
    as_at_stream_sequence: int
    count: int = Field(description="People who pass the filters, on every page.")
    page: int = Field(1, description="This page, from 1.")
    pages: int = Field(1, description="Pages at this page size.")
    page_size: int | None = Field(None, description="Rows per page; null: every row at once.")
    people: list[TrackedPerson] = Field(
        description="Most urgent first: the most overdue, then the soonest due.")
