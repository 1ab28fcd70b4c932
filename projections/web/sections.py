"""The dashboard's other views: the LA-versus-health discrepancy and the transition tracker.

Pure: API answers in, the rows each view lists out; the markup is `templates/sections.html`.
RAG status is always written as a word as well as a colour (WCAG 1.4.1: colour is never the
only way information is conveyed); the words come from the tracker's own rule (`AMBER_DAYS`),
so the label cannot drift from what the tracker computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from projections.tracker.status import AMBER_DAYS, Rag
from projections.web.api_reader import Answer
from projections.web.cells import shown

RAGS: tuple[str, ...] = get_args(Rag)
"""red, amber, green: worst first, the order the views list them in."""
RAG_LABELS: dict[str, str] = {
    "red": "Red: overdue",
    "amber": f"Amber: due within {AMBER_DAYS} days",
    "green": "Green",
}
DISCREPANCY_COLUMNS = ("la_count", "health_count", "both", "la_only", "health_only")
DISCREPANCY_SIDES = (("la_only", "LA only"), ("health_only", "Health only"))


def rag_label(rag: str | None) -> str:
    return RAG_LABELS.get(rag or "", rag or "unknown")


def area_name(figure: Mapping[str, Any]) -> str:
    return figure.get("area_name", figure.get("area", ""))


def month_figures(active_plans: Answer, month: str) -> list[dict[str, Any]]:
    """Indicator 1's figures for `month`, one per area."""
    return [f for f in active_plans.body.get("figures", []) if f.get("month") == month]


def owners(by_owner: Mapping[str, Any]) -> str:
    return ", ".join(f"{owner}: {shown(n)}" for owner, n in sorted(by_owner.items())) or "none"


def not_green(person: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A tracked person's milestones that need attention (red or amber)."""
    return [m for m in person.get("milestones", []) if m.get("rag") != "green"]


def milestones_listed(rows: Answer, chosen: str) -> list[str]:
    """Every milestone the tracker rows mention, and the one chosen in the filter."""
    people = rows.body.get("people", []) if rows.ok else []
    return sorted({m["milestone"] for p in people for m in p.get("milestones", [])}
                  | {chosen} - {""})


def filter_options(milestones: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """(value, label) of each tracker filter's choices, after "Any"."""
    return {"rag": [(r, RAG_LABELS[r]) for r in RAGS],
            "milestone": [(m, m.replace("_", " ")) for m in milestones]}


def pager(rows: Answer, view: Any) -> dict[str, Any]:
    """The tracker's page: which of how many, how many people in all, and the links either
    side (None at the ends)."""
    body = rows.body if rows.ok and isinstance(rows.body, dict) else {}
    page, pages = body.get("page", 1), body.get("pages", 1)
    return {
        "page": page, "pages": pages, "count": body.get("count", 0),
        "previous": view.link(page=page - 1) + "#tracker" if page > 1 else None,
        "next": view.link(page=page + 1) + "#tracker" if page < pages else None,
    }
