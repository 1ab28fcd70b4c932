"""What the web layer adds to the query API: the dashboard, sign-in, the live feed, the access log.

Sign-in: the dashboard posts the token once to `/login`, which sets it as an HttpOnly,
SameSite=Strict cookie. Why a cookie rather than a token in sessionStorage sent as a header:
the browser's EventSource (the live feed) cannot send headers, and a cookie that scripts
cannot read is out of reach of any script injected into the page. API clients send
`Authorization: Bearer <token>` instead; both are accepted everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sse_starlette import EventSourceResponse

from projections.access.log import AccessLogPage
from projections.access.policy import (
    AUDITORS_ONLY,
    PUBLIC,
    TOKEN_COOKIE,
    AccessControl,
    presented_token,
)
from projections.dataset.areas import Partnership
from projections.dataset.periods import BadPeriod
from projections.serving.api_contract import (
    FiguresParam,
    FromParam,
    LaParam,
    SinceParam,
    ToParam,
    time_of,
)
from projections.serving.live import LiveFeed, live_response
from projections.web import dashboard as board
from projections.web.api_reader import ApiReader
from projections.web.dashboard import View, read_everything, signin_page

STATIC = __file__.rsplit("/", 1)[0] + "/static"
SESSION_SECONDS = 8 * 3600
SSE_EVENT = {
    "type": "object", "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["snapshot", "change"]},
        "id": {"type": "string", "pattern": "^[0-9]+$",
               "description": "The stream position the event brings the reader to."},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": "The snapshot or the change, as JSON (see above)."},
    },
}
"""One event of /api/live as a Server-Sent Events parser sees it (heartbeats are comments)."""
_TRACKER_FILTERS = ("owner", "rag", "milestone")
FIGURE_PATHS = {"alert-counts": "/api/alerts/counts"}
"""Figures of the live feed's snapshot read from elsewhere than `/api/indicators/<id>`."""


def install_dashboard(
    app: FastAPI,
    *,
    read_positions: Mapping[str, Callable[[], int]],
    partnership: Partnership,
    today: Callable[[], date],
    live: LiveFeed | None = None,
    access: AccessControl | None = None,
) -> None:
    """Add `/`, `/login`, `/logout`, `/static`, `/api/live` and `/api/audit/access-log`."""
    reader = ApiReader(app)
    feed = live or LiveFeed(tuple(read_positions))
    las = list(partnership.local_authorities.items())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def positions() -> dict[str, int]:
        return {name: await asyncio.to_thread(read) for name, read in read_positions.items()}

    @app.get("/", include_in_schema=False, openapi_extra=PUBLIC)
    async def dashboard(
        request: Request, as_of: str | None = None, la: str | None = None,
        owner: str | None = None, rag: str | None = None, milestone: str | None = None,
        first: Annotated[str | None, Query(alias="from")] = None,
        last: Annotated[str | None, Query(alias="to")] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> HTMLResponse:
        principal = getattr(request.state, "principal", None)
        token = presented_token(request)
        if access is not None and principal is None:
            error = "That access token is not recognised; sign in again." if token else None
            return HTMLResponse(signin_page(error), status_code=401 if token else 200)
        latest = await reader.get("/api/data-date", token=token)
        default = date.fromisoformat(latest.body["default_as_of"]) if latest.ok else today()
        try:
            day = date.fromisoformat(as_of) if as_of else default
        except ValueError:
            raise HTTPException(
                422, f"as_of must be a date written YYYY-MM-DD, got {as_of!r}") from None
        view = View(day, la or None, {k: v for k, v in (("owner", owner), ("rag", rag),
                                                         ("milestone", milestone)) if v},
                    first or None, last or None, page,
                    date.fromisoformat(latest.body["latest_data_date"])
                    if latest.ok and latest.body.get("latest_data_date") else None)
        try:
            view.months  # noqa: B018 - checks the range before anything is read
        except BadPeriod as exc:
            raise HTTPException(422, str(exc)) from None
        answers = await read_everything(reader, view, token)
        return HTMLResponse(board.page(view, answers, las, principal, partnership.name))

    @app.post("/login", include_in_schema=False, openapi_extra=PUBLIC)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if access is None or not token or access.tokens.identify(token) is None:
            return HTMLResponse(signin_page("That access token is not recognised."), 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    @app.post("/logout", include_in_schema=False, openapi_extra=PUBLIC)
    async def logout() -> RedirectResponse:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="strict")
        return response

    @app.get(
        "/api/live",
        summary="Live feed of projection changes (Server-Sent Events)",
        description=(
            "A `text/event-stream`. First a `snapshot` event: `{position, positions, figures}`: "
            "the stream position the dataset has applied (`positions`: every read model's) and "
            "the figures asked for with `figures` "
            "(comma-separated indicator ids, e.g. `active-plans,twenty-week-timeliness`, read "
            "with `la`, `from` and `to` as from /api/indicators/<id>; `alert-counts`: the "
            "alerts open and withdrawn per organisation, /api/alerts/counts). Then one "
            "`change` event per committed change of a read model after its position "
            "(`projection`, `position`, `previous_position`, `events`, `people`, `months`, "
            "`source_orgs`; from the alert process, `projection` `alerts` with `alert_counts` "
            "(open) and `alerts_withdrawn` per organisation), each with "
            "`id` = position; nothing between the snapshot and the first change is missed."
        ),
        response_class=EventSourceResponse,
        responses={200: {"description": "The snapshot, then the changes, as Server-Sent Events.",
                         "content": {"text/event-stream": {"schema": SSE_EVENT}}}},
    )
    async def live_feed(
        request: Request, figures: FiguresParam = None, la: LaParam = None,
        first: FromParam = None, last: ToParam = None,
    ) -> EventSourceResponse:
        ids = (figures or "").split(",") if figures else []
        token = presented_token(request)

        async def snapshot() -> tuple[dict[str, int], dict[str, Any]]:
            before = await positions()
            read = {i: await reader.get(FIGURE_PATHS.get(i, f"/api/indicators/{i}"),
                                        {"la": la, "from": first, "to": last}, token) for i in ids}
            shown = {i: a.body if a.ok else {"status": a.status, "problem": a.problem}
                     for i, a in read.items()}
            at = [a.body["as_at_stream_sequence"] for a in read.values()
                  if a.ok and "as_at_stream_sequence" in a.body]
            if at:
                before[feed.projections[0]] = min(at)
            return before, shown

        return live_response(feed, snapshot, positions)

    if access is not None:
        @app.get(
            "/api/audit/access-log",
            summary="Who read person-level rows, when, and how many (auditors only)",
            description=(
                "Every person-level read and every refusal, newest first: the token's holder, "
                "role and organisation, the request, the rows returned and withheld. `since`: "
                "an ISO 8601 time with offset. 403 for any role but auditor."
            ),
            openapi_extra=AUDITORS_ONLY,
        )
        async def access_log(
            since: SinceParam = None,
            limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
        ) -> AccessLogPage:
            entries = await asyncio.to_thread(access.log.entries, since=time_of(since, "since"),
                                              limit=limit)
            return AccessLogPage(entries=entries)
