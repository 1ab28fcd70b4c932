"""Who may read what from the query API: tokens, roles, and the person-level rule.

Roles (one per token, configured in a TOML file of token SHA-256 hashes, `deploy/access/`):
- `partner`: one organisation of the partnership. Reads every aggregate (already suppressed
  below 5); reads person-level rows only about people its *own* events mention
  (`projections.access.mentions`); an LA may not ask for another LA's person-level rows at all.
- `auditor`: reads everything, including the access log.
- `dashboard`: a wall screen or public page: partnership aggregates only, never a person.
- `operator`: the monitoring scrape: `/metrics` (marked `OPERATORS_ONLY`) and nothing else;
  no other token reads `/metrics`, so process internals are not open to every reader.

Wiring (`projections.serving.api`): `AccessControl` is an app-level FastAPI dependency, so every
endpoint — including ones added later — needs a token unless it is marked `PUBLIC`. An endpoint that
lists people is marked `PERSON_LEVEL` (refused to dashboards up front); and because a marker
can be forgotten, `AccessRoute` also screens *every* JSON answer: any answer that carries a
person key is treated as person-level — filtered to what the reader may see, and logged.
No token is 401, a token that may not read this is 403, a token past its budget is 429 with
`Retry-After` (`projections.access.rate_limit`); each says why in `detail` and is written to the
access log with the token's holder and organisation where known (the client address where not).
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import HTTPException, Request, Response, Security
from fastapi.dependencies.utils import get_dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials

from contracts.envelope import PERSON_KEY_PATTERN
from contracts.topology import OrgKind
from projections.access.log import AccessLog, AccessRecord
from projections.access.mentions import EventIndex, people_mentioned_by
from projections.access.rate_limit import RateLimit, rate_limit_from
from projections.access.tokens import (
    Principal,
    Role,
    TokenRegistry,
    hash_token,
    load_tokens,
    tokens_file,
)
from projections.serving.api_contract import FORBIDDEN, INVALID, RATE_LIMITED, UNAUTHORISED, bearer

ACCESS_KEY = "x-access"
PUBLIC: dict[str, Any] = {ACCESS_KEY: "public"}
PERSON_LEVEL: dict[str, Any] = {ACCESS_KEY: "person-level"}
AUDITORS_ONLY: dict[str, Any] = {ACCESS_KEY: "auditors-only"}
OPERATORS_ONLY: dict[str, Any] = {ACCESS_KEY: "operators-only"}
"""Pass as `openapi_extra=` on an endpoint; unmarked endpoints are aggregates (any token)."""

TOKEN_COOKIE = "sendx_token"
UNIDENTIFIED = "-"
"""token_name and role in the access log of a request without a recognised token."""
_PERSON_KEY = re.compile(PERSON_KEY_PATTERN)
_PERSON_KEY_BYTES = re.compile(rb'"p_[0-9a-f]{32}"')


def refusal(principal: Principal, level: str, la: str | None, what: str) -> str | None:
    """Why `principal` may not make this request, or None. Pure: the access rules in one place."""
    if level == AUDITORS_ONLY[ACCESS_KEY] and principal.role is not Role.AUDITOR:
        return f"{principal} may not read {what}: auditors only"
    operators = level == OPERATORS_ONLY[ACCESS_KEY]
    if operators != (principal.role is Role.OPERATOR):
        return (f"{principal} may not read {what}: operators only" if operators else
                f"{principal} may not read {what}: an operator token reads /metrics only")
    if level != PERSON_LEVEL[ACCESS_KEY]:
        return None
    if principal.role is Role.DASHBOARD:
        return (f"{principal} may read partnership aggregates only, not person-level rows "
                f"({what})")
    org = principal.org
    if principal.role is Role.PARTNER and org and org.kind is OrgKind.LA and la and la != org.code:
        return f"organisation {org.code} may not read person-level rows for LA {la}"
    return None


def person_keys_in(document: Any) -> set[str]:
    """Every person key anywhere in a JSON document."""
    if isinstance(document, str):
        return {document} if _PERSON_KEY.match(document) else set()
    values = document.values() if isinstance(document, dict) else document
    if isinstance(document, dict | list):
        return set().union(*(person_keys_in(v) for v in values)) if document else set()
    return set()


def _is_about(item: Any) -> str | None:
    if isinstance(item, str) and _PERSON_KEY.match(item):
        return item
    if isinstance(item, dict) and isinstance(item.get("person_key"), str):
        return item["person_key"]
    return None


def screen(document: Any, allowed: set[str]) -> tuple[Any, int, int]:
    """`document` without the rows about people outside `allowed`: (document, kept, withheld).

    A row is a list item that is a person key or an object with a `person_key`; a `count`
    beside a filtered list is brought in line with it. Pure.
    """
    if isinstance(document, list):
        kept_items, kept, withheld = [], 0, 0
        for item in document:
            person = _is_about(item)
            if person is not None and person not in allowed:
                withheld += 1
                continue
            inner, k, w = screen(item, allowed)
            kept_items.append(inner)
            kept, withheld = kept + k + (person is not None), withheld + w
        return kept_items, kept, withheld
    if isinstance(document, dict):
        out, kept, withheld = {}, 0, 0
        for name, value in document.items():
            if not isinstance(value, dict | list):
                out[name] = None if _is_about(value) not in (None, *allowed) else value
                continue
            out[name], k, w = screen(value, allowed)
            kept, withheld = kept + k, withheld + w
            if isinstance(value, list) and document.get("count") == len(value):
                out["count"] = len(out[name])
        return out, kept, withheld
    return document, 0, 0


def presented_token(request: Request) -> str | None:
    """`Authorization: Bearer <token>`, else the dashboard's HttpOnly sign-in cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def access_level(route: Any) -> str:
    extra = getattr(route, "openapi_extra", None) or {}
    return str(extra.get(ACCESS_KEY, "aggregate"))


INTERNAL_HEADER = "Sendx-Internal-Read"
_INTERNAL_SECRET = secrets.token_urlsafe(32)
"""Made anew in each process and never sent outside it: a request carrying it came from this
process's own dashboard (`projections.web.api_reader`), whose page request was already counted
against the token's budget."""


def is_internal_read(headers: Mapping[str, str]) -> bool:
    return hmac.compare_digest(headers.get(INTERNAL_HEADER, ""), _INTERNAL_SECRET)


def internal_read_headers() -> dict[str, str]:
    return {INTERNAL_HEADER: _INTERNAL_SECRET}


class AccessControl:
    """The app-level dependency and the answer screen; one per API process."""

    def __init__(self, tokens: TokenRegistry, log: AccessLog, index: EventIndex | None,
                 rate_limit: RateLimit | None = None) -> None:
        self.tokens, self.log, self.index = tokens, log, index
        self.rate_limit = rate_limit or rate_limit_from()

    async def __call__(
        self, request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> None:
        level = access_level(request.scope.get("route"))
        token = credentials.credentials if credentials else presented_token(request)
        principal = self.tokens.identify(token) if token else None
        request.state.principal = principal
        if level == PUBLIC[ACCESS_KEY]:
            return
        await self._within_budget(request, token, principal)
        if token is None:
            await self._refuse(request, None, 401, "no access token: send 'Authorization: "
                               "Bearer <token>' (or sign in on the dashboard at /)",
                               {"WWW-Authenticate": "Bearer"})
        if principal is None:
            await self._refuse(request, None, 401, "this access token is not recognised (wrong, "
                               "or revoked): ask the partnership's administrator for one",
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        reason = refusal(principal, level, request.query_params.get("la"),
                         f"{request.method} {request.url.path}")
        if reason is not None:
            await self._refuse(request, principal, 403, reason)

    async def _within_budget(self, request: Request, token: str | None,
                             principal: Principal | None) -> None:
        """429 with `Retry-After` past the token's budget (a client's, without a known token).

        The dashboard's own in-process reads (`projections.web.api_reader`) are not counted:
        the page request that caused them was, and a page reads a dozen endpoints at once."""
        if is_internal_read(request.headers):
            return
        client = request.client.host if request.client else "unknown"
        key = f"token:{hash_token(token)}" if principal and token else f"client:{client}"
        wait = self.rate_limit.retry_after(key)
        if wait is not None:
            who = str(principal) if principal else f"client {client} (no recognised token)"
            await self._refuse(request, principal, 429,
                               f"{who} sent more than {self.rate_limit.spec} requests: retry "
                               f"after {wait} s", {"Retry-After": str(wait)})

    async def _refuse(self, request: Request, principal: Principal | None, status: int,
                      reason: str, headers: dict[str, str] | None = None) -> NoReturn:
        """Log the refusal (who, where known), then answer it."""
        await self._record(request, principal, status, 0, 0, reason)
        raise HTTPException(status, reason, headers=headers)

    async def screen_answer(self, request: Request, response: Response, level: str) -> Response:
        """Filter and log an answer that carries person keys (marked person-level or not)."""
        principal: Principal | None = getattr(request.state, "principal", None)
        body = getattr(response, "body", None)
        if (principal is None or level == PUBLIC[ACCESS_KEY] or not isinstance(body, bytes)
                or response.status_code >= 300
                or not (response.media_type or "").endswith("json")):
            return response
        marked = level == PERSON_LEVEL[ACCESS_KEY]
        if not marked and not _PERSON_KEY_BYTES.search(body):
            return response
        document = orjson.loads(body)
        keys = person_keys_in(document)
        if principal.role is Role.DASHBOARD and keys:
            reason = refusal(principal, PERSON_LEVEL[ACCESS_KEY], None,
                             f"{request.method} {request.url.path}")
            await self._record(request, principal, 403, 0, 0, reason)
            return JSONResponse({"detail": reason}, status_code=403)
        allowed = keys if principal.role is Role.AUDITOR else await self._mentioned(principal, keys)
        document, kept, withheld = screen(document, allowed)
        await self._record(request, principal, response.status_code, kept, withheld, None)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers.update({"X-Person-Rows": str(kept), "X-Person-Rows-Withheld": str(withheld)})
        return JSONResponse(document, status_code=response.status_code, headers=headers)

    async def _mentioned(self, principal: Principal, keys: set[str]) -> set[str]:
        if principal.org is None or self.index is None or not keys:
            return set()
        return await asyncio.to_thread(people_mentioned_by, self.index, principal.org.code, keys)

    async def _record(self, request: Request, principal: Principal | None, status: int,
                      kept: int, withheld: int, reason: str | None) -> None:
        await self.log.arecord(AccessRecord(
            at=datetime.now(UTC), token_name=principal.name if principal else UNIDENTIFIED,
            role=principal.role.value if principal else UNIDENTIFIED,
            org=principal.org.code if principal and principal.org else None,
            method=request.method,
            path=request.url.path, query=request.url.query, status=status,
            person_rows=kept, withheld_rows=withheld, reason=reason,
        ))


class AccessRoute(APIRoute):
    """Every endpoint's answer passes `AccessControl.screen_answer` (when access is configured);
    its document lists the refusals its access level can answer, with their `Problem` bodies."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        level = str((kwargs.get("openapi_extra") or {}).get(ACCESS_KEY, "aggregate"))
        documented: dict[int | str, Any] = {}
        if get_dependant(path=path, call=endpoint).query_params:
            documented.update(INVALID)
        if level != PUBLIC[ACCESS_KEY]:
            documented.update({**UNAUTHORISED, **RATE_LIMITED})
        if level in (PERSON_LEVEL[ACCESS_KEY], AUDITORS_ONLY[ACCESS_KEY],
                     OPERATORS_ONLY[ACCESS_KEY]):
            documented.update(FORBIDDEN)
        kwargs["responses"] = {**documented, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()
        level = access_level(self)

        async def screened(request: Request) -> Response:
            response = await handler(request)
            control: AccessControl | None = getattr(request.app.state, "access", None)
            if control is None:
                return response
            return await control.screen_answer(request, response, level)

        return screened


def access_control_for(data_dir: Path, index: EventIndex | None) -> AccessControl:
    """The API's access control: tokens from `tokens_file(data_dir)`, the log beside them.

    Raises ValueError (naming the file) when no tokens are configured: an API that cannot
    tell readers apart must not start.
    """
    tokens = load_tokens(data_dir)
    log = AccessLog(tokens_file(data_dir).parent / "access-log.sqlite")
    return AccessControl(tokens, log, index)
