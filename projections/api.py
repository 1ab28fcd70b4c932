"""The query API over the shared dataset (FastAPI; OpenAPI docs at /docs).

Handlers are thin: parse the period, call one query, return its figures. Query errors become
HTTP errors whose `detail` says what to change: a malformed month or range is 422, an LA that
is not in the partnership is 404.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Protocol

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from projections.dataset import queries
from projections.dataset.indicators import (
    INDICATORS,
    ActivePlans,
    IndicatorDefinition,
    TwentyWeekTimeliness,
)
from projections.dataset.periods import BadPeriod, Month, months_between
from projections.dataset.queries import DatasetReadModel, Partnership, UnknownArea

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MONTHS = 12

StreamLastSequence = Callable[[], Awaitable[int | None]]
"""Returns SEND_EVENTS' last sequence, or None when the bus cannot be reached."""


class PositionedReadModel(DatasetReadModel, Protocol):
    def position(self) -> int: ...


class Health(BaseModel):
    status: str = "ok"


class Position(BaseModel):
    projection: str = "dataset"
    applied_sequence: int = Field(
        description="Highest SEND_EVENTS sequence the read model has applied."
    )
    stream_last_sequence: int | None = Field(
        description="Last sequence in SEND_EVENTS; null when the bus cannot be reached."
    )
    lag: int | None = Field(description="Messages published but not yet applied.")


LaParam = Annotated[
    str | None, Query(description="DfE LA code, e.g. 856; omit for every LA and the partnership.")
]
FromParam = Annotated[
    str | None, Query(alias="from", description="First month, YYYY-MM (default: 11 months back).")
]
ToParam = Annotated[
    str | None, Query(alias="to", description="Last month, YYYY-MM (default: this month).")
]


def default_port() -> int:
    return int(os.environ.get("PORT", DEFAULT_PORT))


def period(first: str | None, last: str | None, today: date) -> list[Month]:
    end = Month.parse(last, name="'to'") if last else Month.of(today)
    start = Month.parse(first, name="'from'") if first else end.plus(1 - DEFAULT_MONTHS)
    return months_between(start, end)


def create_app(
    read_model: PositionedReadModel,
    *,
    partnership: Partnership | None = None,
    stream_last_sequence: StreamLastSequence | None = None,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> FastAPI:
    """The API over one read model; `stream_last_sequence` lets /api/position report the lag."""
    area = partnership or Partnership.of()
    app = FastAPI(
        title="send-exchange shared dataset",
        description=(
            "Indicators of the local area partnership's shared SEND dataset, built from the "
            "events every partner publishes. Each indicator is returned with its definition."
        ),
        version="1",
    )

    @app.exception_handler(BadPeriod)
    async def bad_period(_: Request, exc: BadPeriod) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(UnknownArea)
    async def unknown_area(_: Request, exc: UnknownArea) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz", summary="Liveness", description="Answers 200 while the API is up.")
    def healthz() -> Health:
        return Health()

    @app.get(
        "/api/position",
        summary="How far the read model has got",
        description="The stream sequence the dataset has applied, the stream's last, and the lag.",
    )
    async def position() -> Position:
        applied = await asyncio.to_thread(read_model.position)
        last = await stream_last_sequence() if stream_last_sequence else None
        return Position(
            applied_sequence=applied,
            stream_last_sequence=last,
            lag=None if last is None else max(last - applied, 0),
        )

    @app.get(
        "/api/indicators",
        summary="The indicators and their definitions",
        description="Every indicator this API serves, with its written definition and source.",
    )
    def indicators() -> list[IndicatorDefinition]:
        return list(INDICATORS)

    @app.get(
        "/api/indicators/active-plans",
        summary="Indicator 1: active EHC plans, LA and health",
        description=(
            "Active EHC plans as at the end of each month according to the LA and according to "
            "health, per LA and for the partnership. 404 for an LA outside the partnership, 422 "
            "for a malformed month or range."
        ),
    )
    def active_plans(
        la: LaParam = None, first: FromParam = None, last: ToParam = None
    ) -> ActivePlans:
        return queries.active_plans(read_model, period(first, last, today()), area, la)

    @app.get(
        "/api/indicators/twenty-week-timeliness",
        summary="Indicator 2: new EHC plans issued within 20 weeks",
        description=(
            "New EHC plans by month of issue, per LA and for the partnership: issued, exception "
            "cases (counted separately), plans within 20 weeks of the request, and the "
            "percentage. 404 for an LA outside the partnership, 422 for a malformed month or range."
        ),
    )
    def twenty_week_timeliness(
        la: LaParam = None, first: FromParam = None, last: ToParam = None
    ) -> TwentyWeekTimeliness:
        return queries.twenty_week_timeliness(read_model, period(first, last, today()), area, la)

    return app
