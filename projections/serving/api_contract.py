"""What the query API promises its clients: parameters, error bodies and the OpenAPI document.

The document is exact (`schemathesis run` against it finds nothing): a parameter's schema is
what the API enforces (a month is `YYYY-MM` by pattern, not any string), every error a route
can answer is documented with its real body, one shape for all of them (`Problem`: a sentence
naming the field, the value and the rule), and the bearer scheme is declared on every route
that needs a token. Checks that span two parameters (a range that ends before it starts) cannot
be written in a schema: those are 400, documented as such, never 422.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.requests import Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from projections.dataset.periods import MAX_MONTHS
from projections.serving.csv_export import CsvExport, document_csv

YEARS = "(19|20)[0-9]{2}"
"""Years the API reads and judges by: 1900-2099 (what date arithmetic and the data need)."""
MONTH_PATTERN = f"^{YEARS}-(0[1-9]|1[0-2])$"
DATE_PATTERN = f"^{YEARS}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
TIME_PATTERN = (
    f"^{YEARS}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
LA_PATTERN = "^[0-9]{3}$"
FIGURES_PATTERN = "^[a-z0-9-]{1,64}(,[a-z0-9-]{1,64})*$"
RULES = {
    MONTH_PATTERN: "a month written YYYY-MM (e.g. 2025-01)",
    DATE_PATTERN: "a date written YYYY-MM-DD (e.g. 2025-06-30)",
    TIME_PATTERN: "a time written YYYY-MM-DDTHH:MM:SS with a UTC offset "
                  "(e.g. 2025-06-30T00:00:00Z)",
    LA_PATTERN: "a DfE LA code of three digits (e.g. 856)",
    FIGURES_PATTERN: "indicator ids separated by commas (lower-case letters, digits and '-'; "
                     "see /api/indicators)",
}
"""What each pattern means, for the 422 sentence (`problem_of`)."""

bearer = HTTPBearer(
    auto_error=False, scheme_name="token",
    description="An access token from deploy/access/tokens.toml, sent as `Authorization: "
                "Bearer <token>` (the dashboard sends the same token as its sign-in cookie).",
)


class Problem(BaseModel):
    """Every error the API answers: one sentence that says what to change."""

    detail: str = Field(description="What was wrong: the field, the value and the rule.")


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": Problem, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


UNAUTHORISED = {401: _problem("No access token, or one that is not recognised (wrong or revoked).")}
FORBIDDEN = {403: _problem("The token may not read this (its role, or another LA's people).")}
RATE_LIMITED = {429: _problem(
    "This token (or, without a recognised token, this client) sent more requests than its "
    "limit allows (`$SENDX_API_RATE_LIMIT`); wait as long as `Retry-After` says.",
    {"Retry-After": {"description": "Seconds until the next request is allowed.",
                     "schema": {"type": "integer", "minimum": 1}}},
)}
INVALID = {422: _problem("A parameter breaks its documented schema; `detail` names it.")}
UNKNOWN_LA = {404: _problem("The LA is not in the partnership; `detail` lists the known ones.")}
UNAVAILABLE = {503: _problem("The bus cannot be reached (this route reads NATS): try again.")}
NEEDS_ORG = {400: _problem("An auditor must name the organisation whose deliveries (`org`).")}
BAD_RANGE = {400: _problem(
    f"Each month is well formed but together they cannot be served: the range ends before it "
    f"starts, or spans more than {MAX_MONTHS} months."
)}


def _query(pattern: str, description: str, *, alias: str | None = None) -> Any:
    return Query(alias=alias, pattern=pattern, description=description)


LaParam = Annotated[str | None, _query(
    LA_PATTERN, "DfE LA code, e.g. 856; omit for every LA and the partnership. 404 for an LA "
    "outside the partnership.")]
FromParam = Annotated[str | None, _query(
    MONTH_PATTERN, "First month, YYYY-MM, 1900-2099 (default: 11 months before `to`).",
    alias="from")]
ToParam = Annotated[str | None, _query(
    MONTH_PATTERN, "Last month, YYYY-MM, 1900-2099 (default: the month of the latest data date, "
    "`/api/data-date`).", alias="to")]
MonthParam = Annotated[str | None, _query(
    MONTH_PATTERN, "A month, YYYY-MM, 1900-2099 (default: the latest data date's).")]
AsOfParam = Annotated[str | None, Query(
    pattern=DATE_PATTERN, json_schema_extra={"format": "date"},
    description="The day to judge milestones on, YYYY-MM-DD, 1900-2099 (default: the latest "
                "data date, `/api/data-date`).")]
DayParam = Annotated[str | None, Query(
    pattern=DATE_PATTERN, json_schema_extra={"format": "date"},
    description="The day to count on, YYYY-MM-DD, 1900-2099 (default: the latest data date, "
                "`/api/data-date`).")]
SinceParam = Annotated[str | None, Query(
    pattern=TIME_PATTERN, json_schema_extra={"format": "date-time"},
    description="Entries at or after this time: ISO 8601 with a UTC offset, 1900-2099.")]
FiguresParam = Annotated[str | None, _query(
    FIGURES_PATTERN, "Indicator ids, comma-separated, e.g. `active-plans,health-waits`.")]


class BadDate(ValueError):
    """A date or time that has the documented form but is not on the calendar (30 February)."""


def day_of(text: str | None, name: str) -> date | None:
    """A pattern-checked `YYYY-MM-DD` as a date; BadDate when the calendar has no such day."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadDate(
            f"'{name}' must be {RULES[DATE_PATTERN]}, got {text!r}: no such day") from None


def time_of(text: str | None, name: str) -> datetime | None:
    """A pattern-checked time with offset as a datetime; BadDate when it is not on the calendar."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BadDate(
            f"'{name}' must be {RULES[TIME_PATTERN]}, got {text!r}: no such time") from None


def problem_of(error: dict[str, Any]) -> str:
    """One pydantic/FastAPI validation error as a sentence: field, value, rule. Pure."""
    name = str(error.get("loc", ("", "?"))[-1])
    pattern = (error.get("ctx") or {}).get("pattern")
    got = "" if error.get("type") == "missing" else f", got {error.get('input')!r}"
    if pattern in RULES:
        return f"'{name}' must be {RULES[pattern]}{got}"
    return f"'{name}': {error.get('msg', 'is not valid')}{got}"


def _validation_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    sentences = [problem_of(dict(e)) for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": "; ".join(sentences)})


def _bad_date(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": str(exc)})


def install_contract(app: FastAPI, *, access_key: str) -> None:
    """Errors as `Problem`s, and an OpenAPI document without security on public routes.

    The bearer scheme reaches every operation through the app-level access dependency; an
    operation marked public (`openapi_extra={access_key: "public"}`) is answered without a
    token, so its `security` requirement is dropped from the document.
    """
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_middleware(CsvExport)
    app.add_exception_handler(BadDate, _bad_date)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                   description=app.description)
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if operation.get(access_key) == "public":
                        operation.pop("security", None)
                        for status in ("401", "403", "429"):
                            operation["responses"].pop(status, None)
            document_csv(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
