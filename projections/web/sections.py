"""The dashboard's other views: the LA-versus-health discrepancy and the transition tracker.

RAG status is always written as a word as well as a colour (WCAG 1.4.1: colour is never the
only way information is conveyed).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from projections.web.api_reader import Answer
from projections.web.charts import shown
from projections.web.tiles import definition_block

RAG_LABELS = {"red": "Red: overdue", "amber": "Amber: due within 90 days", "green": "Green"}


def rag_badge(rag: str | None) -> str:
    label = RAG_LABELS.get(rag or "", rag or "unknown")
    return f'<span class="rag rag-{escape(rag or "unknown")}">{escape(label)}</span>'


def _unavailable(answer: Answer) -> str:
    return f'<p class="unavailable">{escape(answer.problem)}</p>'


def _cell(value: Any) -> str:
    return f"<td>{escape(shown(value))}</td>"


def discrepancy(active_plans: Answer, people: Answer, month: str) -> str:
    """Indicator 1 side by side for the month, and the people behind the discrepancy."""
    if not active_plans.ok:
        return _unavailable(active_plans)
    rows = [f for f in active_plans.body.get("figures", []) if f.get("month") == month]
    body = "".join(
        f'<tr><th scope="row">{escape(f.get("area_name", f.get("area", "")))}</th>'
        + "".join(_cell(f.get(k)) for k in ("la_count", "health_count", "both", "la_only",
                                              "health_only"))
        + "</tr>"
        for f in rows
    )
    table = (
        f'<table class="figures" data-testid="discrepancy"><caption>Active EHC plans at the end '
        f"of {escape(month)}: LA and health records compared</caption><thead><tr>"
        '<th scope="col">Area</th><th scope="col">LA count</th><th scope="col">Health count</th>'
        '<th scope="col">Both</th><th scope="col">LA only</th><th scope="col">Health only</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )
    return table + _discrepancy_people(people) + definition_block(
        active_plans.body.get("indicator", {}))


def _discrepancy_people(people: Answer) -> str:
    if not people.ok:
        return f'<h3>People behind the discrepancy</h3>{_unavailable(people)}'
    blocks = []
    for entry in people.body.get("people", []):
        for side, title in (("la_only", "LA only"), ("health_only", "Health only")):
            keys = entry.get(side, [])
            items = "".join(f"<li><code>{escape(k)}</code></li>" for k in keys)
            blocks.append(
                f"<details><summary>LA {escape(entry.get('la', ''))}, {title}: {len(keys)} "
                f"{'person' if len(keys) == 1 else 'people'}</summary>"
                f'<ul class="keys">{items or "<li>None.</li>"}</ul></details>'
            )
    note = ("<p class=\"note\">Person-level: only people your organisation's own events mention "
            "are listed; every read is recorded in the access log.</p>")
    return f"<h3>People behind the discrepancy</h3>{note}{''.join(blocks)}"


def tracker_summary(answer: Answer) -> str:
    if not answer.ok:
        return _unavailable(answer)
    rows = "".join(
        f'<tr><th scope="row">{escape(f.get("area_name", f.get("area", "")))}</th>'
        + _cell(f.get("young_people"))
        + "".join(f"<td>{rag_badge(rag)} {escape(shown(f.get(rag)))}</td>"
                  for rag in ("red", "amber", "green"))
        + _cell(f.get("overdue_milestones"))
        + f"<td>{escape(_owners(f.get('overdue_by_owner', {})))}</td></tr>"
        for f in answer.body.get("figures", [])
    )
    return (
        '<table class="figures" data-testid="tracker-summary"><caption>Young people aged 14-25 '
        f"by RAG status on {escape(str(answer.body.get('as_of', '')))}</caption><thead><tr>"
        '<th scope="col">Area</th><th scope="col">Young people</th><th scope="col">Red</th>'
        '<th scope="col">Amber</th><th scope="col">Green</th>'
        '<th scope="col">Overdue milestones</th><th scope="col">Overdue by owner</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
        + definition_block(answer.body.get("indicator", {}))
    )


def _owners(by_owner: dict[str, Any]) -> str:
    return ", ".join(f"{owner}: {shown(n)}" for owner, n in sorted(by_owner.items())) or "none"


def tracker_filters(filters: dict[str, str], milestones: Sequence[str], las: Sequence[str]) -> str:
    def select(name: str, label: str, options: Sequence[tuple[str, str]]) -> str:
        chosen = filters.get(name, "")
        opts = "".join(
            f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(t)}</option>'
            for v, t in [("", "Any"), *options]
        )
        return (f'<div class="field"><label for="f-{name}">{label}</label>'
                f'<select id="f-{name}" name="{name}">{opts}</select></div>')

    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(filters[k])}">'
                     for k in ("as_of", "la") if filters.get(k))
    owner = escape(filters.get("owner", ""))
    return (
        '<form class="filters" method="get" action="/#tracker" aria-label="Filter the tracker">'
        + hidden
        + select("rag", "Status", [(r, RAG_LABELS[r]) for r in ("red", "amber", "green")])
        + select("milestone", "Milestone", [(m, m.replace("_", " ")) for m in milestones])
        + '<div class="field"><label for="f-owner">Overdue owner (organisation code)</label>'
        f'<input id="f-owner" name="owner" value="{owner}" size="8" '
        'autocomplete="off"></div>'
        + '<button type="submit">Filter</button> <a href="/#tracker">Clear filters</a></form>'
    )


def tracker_rows(answer: Answer) -> str:
    if not answer.ok:
        return _unavailable(answer)
    people = answer.body.get("people", [])
    if not people:
        return '<p class="note">Nobody in the tracker matches these filters.</p>'
    rows = []
    for person in people:
        open_milestones = [m for m in person.get("milestones", []) if m.get("rag") != "green"]
        listed = "".join(
            f"<li>{rag_badge(m.get('rag'))} {escape(m.get('title', m.get('milestone', '')))}"
            f" (due {escape(str(m.get('due_on')))}, owner {escape(m.get('owner', ''))})</li>"
            for m in open_milestones
        ) or "<li>All milestones on track.</li>"
        rows.append(
            f'<tr><th scope="row"><code>{escape(person.get("person_key", ""))}</code></th>'
            f"<td>{escape(str(person.get('la') or 'not known'))}</td>"
            f"<td>{escape(str(person.get('age', '')))}</td><td>{rag_badge(person.get('rag'))}</td>"
            f"<td>{escape(', '.join(person.get('overdue_owners', [])) or 'none')}</td>"
            f'<td><ul class="milestones">{listed}</ul></td></tr>'
        )
    return (
        '<table class="figures tracker" data-testid="tracker-rows"><caption>'
        f"{len(people)} young {'person' if len(people) == 1 else 'people'} "
        "(person-level: only people your organisation's events mention)</caption><thead><tr>"
        '<th scope="col">Person key</th><th scope="col">LA</th><th scope="col">Age</th>'
        '<th scope="col">Status</th><th scope="col">Overdue owners</th>'
        f'<th scope="col">Milestones not green</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )
