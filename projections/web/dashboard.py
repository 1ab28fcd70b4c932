"""The dashboard page: read every figure the user may see through the API, lay out the views.

The page is complete HTML without JavaScript (the as-of picker and the filters are plain GET
forms); `static/dashboard.js` only listens to `/api/live` and swaps in the re-rendered
sections when the read model moves on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from projections.dataset.periods import Month, months_between
from projections.web import sections
from projections.web.api_reader import Answer, ApiReader
from projections.web.templating import render
from projections.web.tiles import tile

TRACKER = "transition-tracker"
MONTHS_SHOWN = 12


@dataclass(frozen=True)
class View:
    """What the user asked to see: the as-of day, an LA (None: all) and the tracker filters."""

    as_of: date
    la: str | None = None
    tracker: dict[str, str] = field(default_factory=dict)

    @property
    def months(self) -> list[str]:
        last = Month.of(self.as_of)
        return [str(m) for m in months_between(last.plus(1 - MONTHS_SHOWN), last)]

    @property
    def area(self) -> str:
        return self.la or "partnership"


async def read_everything(reader: ApiReader, view: View, token: str | None) -> dict[str, Any]:
    """Every answer the page needs, read concurrently."""
    period = {"la": view.la, "from": view.months[0], "to": view.months[-1]}
    definitions = await reader.get("/api/indicators", token=token)
    monthly = [d for d in (definitions.body if definitions.ok else []) if d["id"] != TRACKER]
    calls = {
        "position": reader.get("/api/position", token=token),
        "people": reader.get("/api/indicators/active-plans/discrepancy/people",
                             {"la": view.la, "month": view.months[-1]}, token),
        "summary": reader.get("/api/tracker/summary", {"as_of": view.as_of, "la": view.la},
                              token),
        "rows": reader.get("/api/tracker", {"as_of": view.as_of, "la": view.la, **view.tracker},
                           token),
        **{d["id"]: reader.get(f"/api/indicators/{d['id']}", period, token) for d in monthly},
    }
    answers = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    return {"definitions": definitions, "monthly": monthly, **answers}


def page(view: View, answers: dict[str, Any], las: list[tuple[str, str]], principal: Any,
         partnership_name: str) -> str:
    """The whole dashboard page for `view` (`templates/page.html`)."""
    position: Answer = answers["position"]
    definitions: Answer = answers["definitions"]
    rows: Answer = answers["rows"]
    milestones = sections.milestones_listed(rows, view.tracker.get("milestone", ""))
    return render(
        "page.html",
        view=view,
        partnership_name=partnership_name,
        principal=principal,
        position=position.body.get("applied_sequence", 0) if position.ok else 0,
        applied=position.body.get("applied_sequence", 0) if position.ok else "unknown",
        areas=[("", "Whole partnership"), *((code, f"{name} ({code})") for code, name in las)],
        area_name=dict(las).get(view.la or "", "the partnership"),
        problem=None if definitions.ok else definitions.problem,
        tiles=[tile(d, answers[d["id"]], view.months, view.area) for d in answers["monthly"]]
        if definitions.ok else [],
        active_plans=answers.get("active-plans", Answer(404, None)),
        people=answers["people"],
        summary=answers["summary"],
        rows=rows,
        filters={"as_of": view.as_of.isoformat(), "la": view.la or "", **view.tracker},
        filter_options=sections.filter_options(milestones),
    )


def signin_page(error: str | None = None) -> str:
    return render("signin.html", error=error)
