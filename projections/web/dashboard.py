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
from urllib.parse import urlencode

from projections.dataset.periods import Month, months_between
from projections.web import sections
from projections.web.api_reader import Answer, ApiReader
from projections.web.templating import render
from projections.web.tiles import tile

TRACKER = "transition-tracker"
MONTHS_SHOWN = 12
PAGE_SIZE = 25
"""Young people per tracker page: a page a phone scrolls through, not 250 at once."""


@dataclass(frozen=True)
class View:
    """What the user asked to see: the as-of day (default: the latest data date), the months
    charted (default: the 12 to the as-of day's), an LA (None: all), the tracker's filters and
    page."""

    as_of: date
    la: str | None = None
    tracker: dict[str, str] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    page: int = 1
    latest: date | None = None
    """The latest data date, shown beside the as-of day."""

    @property
    def months(self) -> list[str]:
        """The months charted; BadPeriod when the range asked for cannot be served."""
        last = Month.parse(self.last, name="'to'") if self.last else Month.of(self.as_of)
        first = (Month.parse(self.first, name="'from'") if self.first
                 else last.plus(1 - MONTHS_SHOWN))
        return [str(m) for m in months_between(first, last)]

    @property
    def area(self) -> str:
        return self.la or "partnership"

    @property
    def period(self) -> dict[str, str | None]:
        """The query that reads the charted months' figures (and downloads them)."""
        return {"la": self.la, "from": self.months[0], "to": self.months[-1]}

    def link(self, **changes: object) -> str:
        """This view's address with `changes` (e.g. another tracker page)."""
        query = {"as_of": self.as_of.isoformat(), "la": self.la, "from": self.first,
                 "to": self.last, **self.tracker, "page": self.page, **changes}
        return "/?" + urlencode({k: v for k, v in query.items() if v not in (None, "", 1)})


async def read_everything(reader: ApiReader, view: View, token: str | None) -> dict[str, Any]:
    """Every answer the page needs, read concurrently."""
    period = view.period
    definitions = await reader.get("/api/indicators", token=token)
    monthly = [d for d in (definitions.body if definitions.ok else []) if d["id"] != TRACKER]
    calls = {
        "position": reader.get("/api/position", token=token),
        "people": reader.get("/api/indicators/active-plans/discrepancy/people",
                             {"la": view.la, "month": view.months[-1]}, token),
        "summary": reader.get("/api/tracker/summary", {"as_of": view.as_of, "la": view.la},
                              token),
        "health_checks": reader.get("/api/tracker/health-checks",
                                    {"as_of": view.as_of, "la": view.la}, token),
        "support_register": reader.get("/api/tracker/support-register",
                                       {"as_of": view.as_of, "la": view.la}, token),
        "rows": reader.get("/api/tracker", {"as_of": view.as_of, "la": view.la, **view.tracker,
                                            "page": view.page, "page_size": PAGE_SIZE}, token),
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
        tiles=[tile(d, answers[d["id"]], view.months, view.area, csv_link(
            f"/api/indicators/{d['id']}", view.period)) for d in answers["monthly"]]
        if definitions.ok else [],
        active_plans=answers.get("active-plans", Answer(404, None)),
        people=answers["people"],
        summary=answers["summary"],
        health_checks=answers["health_checks"],
        support_register=answers["support_register"],
        rows=rows,
        filters={"as_of": view.as_of.isoformat(), "la": view.la or "", "from": view.first or "",
                 "to": view.last or "", **view.tracker},
        filter_options=sections.filter_options(milestones),
        downloads={
            "rows": csv_link("/api/tracker", {"as_of": view.as_of.isoformat(), "la": view.la,
                                              **view.tracker}),
            "summary": csv_link("/api/tracker/summary",
                                {"as_of": view.as_of.isoformat(), "la": view.la}),
            **{name: csv_link(f"/api/tracker/{path}",
                              {"as_of": view.as_of.isoformat(), "la": view.la})
               for name, path in (("health_checks", "health-checks"),
                                  ("support_register", "support-register"))},
            "discrepancy": csv_link("/api/indicators/active-plans",
                                    {"la": view.la, "from": view.months[-1],
                                     "to": view.months[-1]}),
        },
        pager=sections.pager(rows, view),
    )


def csv_link(path: str, query: dict[str, Any]) -> str:
    """The download address of an API list as CSV: the same query, so the same cells."""
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode({**kept, 'format': 'csv'})}"


def signin_page(error: str | None = None) -> str:
    return render("signin.html", error=error)
