"""The dashboard page: read every figure the user may see through the API, lay out the views.

The page is complete HTML without JavaScript (the as-of picker and the filters are plain GET
forms); `static/dashboard.js` only listens to `/api/live` and swaps in the re-rendered
sections when the read model moves on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from projections.dataset.periods import Month, months_between
from projections.web import sections
from projections.web.api_reader import Answer, ApiReader
from projections.web.tiles import tile

TEMPLATES = files("projections.web") / "templates"
TRACKER = "transition-tracker"
MONTHS_SHOWN = 12


def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


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


def controls(view: View, las: list[tuple[str, str]]) -> str:
    def option(code: str, label: str) -> str:
        chosen = " selected" if code == (view.la or "") else ""
        return f'<option value="{escape(code)}"{chosen}>{escape(label)}</option>'

    options = option("", "Whole partnership") + "".join(
        option(code, f"{name} ({code})") for code, name in las)
    return (
        '<form class="controls" method="get" action="/" aria-label="Choose the date and area">'
        '<div class="field"><label for="as_of">Figures as of</label>'
        f'<input type="date" id="as_of" name="as_of" value="{view.as_of.isoformat()}"></div>'
        f'<div class="field"><label for="la">Area</label><select id="la" name="la">{options}'
        '</select></div><button type="submit">Show</button></form>'
    )


def body(view: View, answers: dict[str, Any], las: list[tuple[str, str]]) -> str:
    position: Answer = answers["position"]
    applied = position.body.get("applied_sequence", 0) if position.ok else "unknown"
    status = (
        '<p id="live-status" class="live-status" role="status" aria-live="polite">'
        f'Figures as at stream position <span data-testid="position">{escape(str(applied))}'
        '</span>. <span class="live-state">Live updates start when the page has loaded.</span>'
        "</p>"
    )
    definitions: Answer = answers["definitions"]
    if not definitions.ok:
        tiles = f'<p class="unavailable">{escape(definitions.problem)}</p>'
    else:
        tiles = "".join(tile(d, answers[d["id"]], view.months, view.area)
                        for d in answers["monthly"])
    area_name = dict(las).get(view.la or "", "the partnership")
    rows: Answer = answers["rows"]
    milestones = sorted({m["milestone"] for p in (rows.body.get("people", []) if rows.ok else [])
                         for m in p.get("milestones", [])} | {view.tracker.get("milestone", "")}
                        - {""})
    filters = {"as_of": view.as_of.isoformat(), "la": view.la or "", **view.tracker}
    return (
        controls(view, las) + status
        + '<section id="indicators" class="live" aria-labelledby="indicators-h">'
        f'<h2 id="indicators-h">Indicators for {escape(area_name)}, '
        f"{escape(view.months[0])} to {escape(view.months[-1])}</h2>"
        f'<div class="tiles">{tiles}</div></section>'
        + '<section id="discrepancy" class="live" aria-labelledby="discrepancy-h">'
        '<h2 id="discrepancy-h">Active EHC plans: LA records against health records</h2>'
        + sections.discrepancy(answers.get("active-plans", Answer(404, None)), answers["people"],
                               view.months[-1])
        + "</section>"
        + '<section id="tracker" class="live" aria-labelledby="tracker-h">'
        f'<h2 id="tracker-h">Transition from 14: tracker on {view.as_of.isoformat()}</h2>'
        + sections.tracker_summary(answers["summary"])
        + '<h3 id="tracker-people-h">Young people</h3>'
        + sections.tracker_filters(filters, milestones, [c for c, _ in las])
        + sections.tracker_rows(rows) + "</section>"
    )


def who(principal: Any) -> str:
    if principal is None:
        return '<p class="who">Access control is off (development).</p>'
    role = principal.role.value
    org = f", organisation {escape(principal.org.code)}" if principal.org else ""
    return (
        f'<div class="who"><p>Signed in as <strong>{escape(principal.name)}</strong> '
        f"({escape(role)}{org})</p>"
        '<form method="post" action="/logout"><button type="submit" class="secondary">'
        "Sign out</button></form></div>"
    )


def page(view: View, answers: dict[str, Any], las: list[tuple[str, str]], principal: Any,
         partnership_name: str) -> str:
    position: Answer = answers["position"]
    return template("page.html").substitute(
        title=escape(f"SEND dashboard: {partnership_name}"),
        heading=escape(f"{partnership_name}: SEND partnership dashboard"),
        who=who(principal),
        position=position.body.get("applied_sequence", 0) if position.ok else 0,
        body=body(view, answers, las),
    )


def signin_page(error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return template("signin.html").substitute(error=message)
