"""Every list the API serves, also as CSV: asked for with `Accept: text/csv` or, for a download
link (which cannot set a header), `?format=csv`.

The CSV is made from the JSON answer itself, after the route and the access policy have done
their work, so it holds exactly the figures the screen shows: the same "<5" and "c" cells, the
same person-level filtering, nothing recomputed. A list of objects becomes one row per object;
a nested object becomes `parent.child` columns; a nested list of objects (a young person's
milestones) becomes one row per item with the parent's columns repeated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSV = "text/csv; charset=utf-8"


class NotTabular(ValueError):
    """The answer holds no list of rows to write as CSV."""


MAIN_LISTS = ("figures", "people", "entries")
"""The list an answer is about, where it holds several (figures beside their targets)."""


def rows_of(body: Any) -> list[Any]:
    """The list an answer is about: the answer itself, its figures (or people, or entries),
    else its one list of objects (the longest, where there are several)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for name in MAIN_LISTS:
            if isinstance(body.get(name), list):
                return body[name]
        lists = [v for v in body.values() if isinstance(v, list)
                 and all(isinstance(item, dict) for item in v)]
        if lists:
            return max(lists, key=len)
    raise NotTabular("this answer is not a list; ask for it as JSON")


def _flat(item: Any, prefix: str = "") -> Iterable[dict[str, Any]]:
    """One item as flat rows: nested objects as dotted columns, a nested list of objects as
    one row per element (the rest repeated); a list of plain values joined by ';'."""
    if not isinstance(item, dict):
        yield {prefix or "value": item}
        return
    row: dict[str, Any] = {}
    expand: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            for sub in _flat(value, f"{name}."):
                row.update(sub)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            expand.append((name, value))
        elif isinstance(value, list):
            row[name] = ";".join(str(v) for v in value)
        else:
            row[name] = value
    if not expand:
        yield row
        return
    name, items = expand[0]
    for element in items:
        for sub in _flat(element, f"{name}."):
            yield {**row, **sub}


def to_csv(body: Any) -> str:
    """An API answer as CSV text, columns in first-seen order; null as an empty cell."""
    rows = [flat for item in rows_of(body) for flat in _flat(item)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def wants_csv(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    if QueryParams(scope.get("query_string", b"").decode()).get("format") == "csv":
        return True
    accept = Headers(scope=scope).get("accept", "")
    return accept.split(",")[0].split(";")[0].strip() == "text/csv"


def filename_of(path: str) -> str:
    return (path.strip("/").replace("api/", "", 1).replace("/", "-") or "answer") + ".csv"


class CsvExport:
    """ASGI middleware: a JSON answer of a GET asking for CSV, written as CSV. Errors stay
    JSON (their one sentence says what was wrong); an answer that is not a list is 406."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if not wants_csv(scope) or not path.startswith("/api/") or path.startswith("/api/live"):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        headers = Headers(raw=start.get("headers", []))
        body = b"".join(chunks)
        if start.get("status") != 200 or not headers.get("content-type", "").startswith(
            "application/json"
        ):
            await _answer(send, start.get("status", 500), start.get("headers", []), body)
            return
        try:
            text = to_csv(orjson.loads(body)).encode()
        except NotTabular as exc:
            problem = orjson.dumps({"detail": str(exc)})
            await _answer(send, 406, [(b"content-type", b"application/json")], problem)
            return
        keep_headers = [(k, v) for k, v in start.get("headers", [])
                        if k.lower() not in (b"content-type", b"content-length")]
        disposition = f'attachment; filename="{filename_of(scope["path"])}"'.encode()
        await _answer(send, 200, [*keep_headers, (b"content-type", CSV.encode()),
                                  (b"content-disposition", disposition)], text)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                  body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def document_csv(document: dict[str, Any]) -> None:
    """Declare `text/csv` beside JSON on every GET whose answer holds a list of objects."""
    schemas = document.get("components", {}).get("schemas", {})

    def tabular(schema: dict[str, Any]) -> bool:
        if schema.get("type") == "array":
            return True
        target = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], {})
        return any(p.get("type") == "array" and "$ref" in p.get("items", {})
                   for p in target.get("properties", {}).values())

    for path, operations in document.get("paths", {}).items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {})
        json_schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
        if path.startswith("/api/") and tabular(json_schema):
            answer["content"]["text/csv"] = {"schema": {"type": "string"}}
            answer["description"] = (
                f"{answer.get('description', 'OK')}. As CSV with `Accept: text/csv` or "
                "`?format=csv`: the same cells, suppression as in the JSON."
            )
