"""The dashboard reads its figures through the public query API, in process.

Why not call the queries directly: the dashboard is one more client of the API, so it shows a
user exactly what their token may read (person-level rows filtered, refusals explained, reads
in the access log), it picks up new endpoints without code of its own, and an endpoint that
does not exist yet is a 404 it can explain rather than an import error. The requests never
leave the process (httpx's ASGI transport), so this costs a function call, not a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from projections.access.policy import internal_read_headers

INTERNAL_BASE = "http://sendx.internal"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def problem(self) -> str:
        """What to tell the user when there is no figure to show."""
        if self.status == 404 and not isinstance(self.body, dict):
            return "Not available: this API does not serve it yet."
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if self.status == 404:
            return f"Not available: {detail or 'this API does not serve it yet.'}"
        if self.status in (401, 403):
            return f"Not shown to you: {detail}"
        return f"Could not be read (HTTP {self.status}): {detail or self.body}"


class ApiReader:
    def __init__(self, app: FastAPI) -> None:
        self._transport = httpx.ASGITransport(app=app)

    async def get(self, path: str, params: dict[str, Any] | None = None,
                  token: str | None = None) -> Answer:
        headers = internal_read_headers()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        async with httpx.AsyncClient(transport=self._transport, base_url=INTERNAL_BASE) as client:
            response = await client.get(path, params=query, headers=headers)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code == 404 and body == {"detail": "Not Found"}:
            body = None
        return Answer(response.status_code, body)
