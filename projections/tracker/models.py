"""What the tracker API publishes: person-level rows (for authorised users) and the suppressed
summary that is indicator 7."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from projections.dataset.figures import Count
from projections.dataset.indicators import IndicatorDefinition


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
    count: int
    people: list[TrackedPerson]


class TrackerSummaryFigure(BaseModel):
    area: str = Field(description="LA code, `unknown` or `partnership`.")
    area_name: str
    young_people: Count = Field(description="Aged 14-25 with a plan, LD or autism diagnosis.")
    red: Count
    amber: Count
    green: Count
    overdue_milestones: Count
    overdue_by_owner: dict[str, Count] = Field(description="Red milestones by owning organisation.")
    overdue_by_milestone: dict[str, Count] = Field(description="Red milestones by milestone.")


class TrackerSummary(BaseModel):
    indicator: IndicatorDefinition
    as_of: date
    as_at_stream_sequence: int
    figures: list[TrackerSummaryFigure]
