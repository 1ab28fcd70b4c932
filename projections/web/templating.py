"""The dashboard's Jinja2 environment: every page and fragment is a template, autoescaped.

Why Jinja2 rather than f-strings: every value a template writes is escaped unless it is
already markup (`Markup`, what a macro returns), so a name or a query parameter holding
`<script>` is shown as text, never run; and the markup lives in `templates/`, readable as HTML.
`StrictUndefined`: a misspelt field is an error in the tests, not an empty cell on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from projections.web import sections
from projections.web.cells import shown


def plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


ENVIRONMENT = Environment(
    loader=PackageLoader("projections.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENVIRONMENT.filters["shown"] = shown
ENVIRONMENT.globals.update(
    plural=plural,
    rag_label=sections.rag_label,
    area_name=sections.area_name,
    month_figures=sections.month_figures,
    owners=sections.owners,
    not_green=sections.not_green,
    RAGS=sections.RAGS,
    DISCREPANCY_COLUMNS=sections.DISCREPANCY_COLUMNS,
    DISCREPANCY_SIDES=sections.DISCREPANCY_SIDES,
)


def render(name: str, **context: Any) -> str:
    """The template `name` rendered with `context`."""
    return ENVIRONMENT.get_template(name).render(**context)


def macro(name: str, macro_name: str) -> Callable[..., Markup]:
    """A macro of the template `name`, callable from Python (the same markup a page uses)."""
    return getattr(ENVIRONMENT.get_template(name).module, macro_name)
