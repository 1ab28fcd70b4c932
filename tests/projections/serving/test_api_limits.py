"""Refusals as a user meets them: a token past its rate limit (429 + Retry-After), a bad token
(401), a partner on an auditor-only route (403) — each answered with a `detail` that says why,
and each in the access log an auditor reads through the API, naming the holder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.rate_limit import RATE_LIMIT_ENV, rate_limit_from
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.dataset.store import SqliteDatasetStore
from projections.serving.api import create_app

MID_JUNE_2025 = date(2025, 6, 15)
HOLDERS = {"Leicester City": ("partner", "856"), "Leicestershire": ("partner", "855"),
           "Auditor": ("auditor", None)}
AGGREGATE = "/api/indicators/active-plans"
ACCESS_LOG = "/api/audit/access-log"
LIMIT = "3/minute"


def bearer(holder: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{holder}"}


@pytest.fixture
def api(
    store: SqliteDatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    registry = TokenRegistry([
        TokenEntry(name=name, sha256=hash_token(f"token-of-{name}"), role=role, org=org)
        for name, (role, org) in HOLDERS.items()
    ])
    log = AccessLog(tmp_path / "access-log.sqlite")
    # the limit as an operator sets it: through the environment variable
    monkeypatch.setenv(RATE_LIMIT_ENV, LIMIT)
    control = AccessControl(registry, log, store, rate_limit_from())
    yield TestClient(create_app(store, access=control, today=lambda: MID_JUNE_2025))
    log.close()


def audit_log(api: TestClient) -> list[dict]:
    response = api.get(ACCESS_LOG, headers=bearer("Auditor"))
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_a_token_past_its_limit_gets_429_and_others_are_unaffected(api: TestClient) -> None:
    # given Leicester's script has used its whole budget
    assert [api.get(AGGREGATE, headers=bearer("Leicester City")).status_code
            for _ in range(3)] == [200, 200, 200]
    # when it sends one more
    refused = api.get(AGGREGATE, headers=bearer("Leicester City"))
    # then it is told to wait, and for how long
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert refused.json() == {"detail": f"organisation 856 sent more than {LIMIT} requests: "
                                        f"retry after {wait} s"}
    # and Leicestershire's token still reads
    assert api.get(AGGREGATE, headers=bearer("Leicestershire")).status_code == 200
    # and the auditor finds the refusal in the access log, naming the holder
    [entry] = [e for e in audit_log(api) if e["status"] == 429]
    assert (entry["token_name"], entry["role"], entry["org"], entry["path"]) == (
        "Leicester City", "partner", "856", AGGREGATE)
    assert entry["reason"] == refused.json()["detail"]


def test_a_client_guessing_tokens_is_limited_too(api: TestClient) -> None:
    statuses = [api.get(AGGREGATE, headers={"Authorization": f"Bearer guess-{n}"}).status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "no recognised token" in audit_log(api)[0]["reason"]


def test_a_bad_token_is_401_and_logged(api: TestClient) -> None:
    response = api.get(AGGREGATE, headers={"Authorization": "Bearer stolen-or-revoked"})
    assert response.status_code == 401
    assert "not recognised" in response.json()["detail"]
    [entry] = audit_log(api)
    assert (entry["status"], entry["token_name"], entry["org"], entry["path"]) == (
        401, "-", None, AGGREGATE)
    assert entry["reason"] == response.json()["detail"]


def test_a_partner_on_an_auditor_only_route_is_403_and_logged(api: TestClient) -> None:
    response = api.get(ACCESS_LOG, headers=bearer("Leicestershire"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"organisation 855 may not read GET {ACCESS_LOG}: auditors only")
    [entry] = [e for e in audit_log(api) if e["status"] == 403]
    assert (entry["token_name"], entry["role"], entry["org"], entry["reason"]) == (
        "Leicestershire", "partner", "855", response.json()["detail"])
