"""Who may read what: tokens, roles, person-level filtering, refusals that say why, the log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from projections.access.log import AccessLog
from projections.access.mentions import organisations_mentioning
from projections.access.policy import AccessControl, screen
from projections.access.tokens import (
    Role,
    TokenEntry,
    TokenRegistry,
    hash_token,
    tokens_file,
    write_demo_tokens,
)
from projections.dataset.store import SqliteDatasetStore
from projections.serving.api import create_app

MID_JUNE_2025 = date(2025, 6, 15)
TOKENS = {
    "leicester": ("partner", "856"), "leicestershire": ("partner", "855"),
    "icb": ("partner", "QK1"), "school": ("partner", "120001"),
    "auditor": ("auditor", None), "wallboard": ("dashboard", None),
}
PEOPLE = "/api/indicators/active-plans/discrepancy/people?month=2025-06"


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{name}"}


@pytest.fixture
def registry() -> TokenRegistry:
    return TokenRegistry([
        TokenEntry(name=name, sha256=hash_token(f"token-of-{name}"), role=role, org=org)
        for name, (role, org) in TOKENS.items()
    ])


@pytest.fixture
def access_log(tmp_path: Path) -> AccessLog:
    log = AccessLog(tmp_path / "access-log.sqlite")
    yield log
    log.close()


@pytest.fixture
def api(store: SqliteDatasetStore, record, events, registry, access_log) -> TestClient:
    # given Leicester (856) maintains plans for ben and amira; health (QK1) flags amira and
    # cara for 856; Leicestershire (855) maintains dan's plan: ben is "LA only" and cara
    # "health only" for 856, dan "LA only" for 855
    record(
        events.plan_issued("amira", date(2025, 3, 3)),
        events.health_flag_set("amira", date(2025, 3, 10)),
        events.plan_issued("ben", date(2025, 4, 1), case="C2", plan="P2"),
        events.health_flag_set("cara", date(2025, 5, 5)),
        events.plan_issued("dan", date(2025, 2, 2), la="855"),
    )
    control = AccessControl(registry, access_log, store)
    return TestClient(create_app(store, access=control, today=lambda: MID_JUNE_2025))


def sides(body: dict, la: str) -> tuple[list[str], list[str]]:
    entry = next(p for p in body["people"] if p["la"] == la)
    return entry["la_only"], entry["health_only"]


def test_without_a_token_the_api_answers_401_saying_how_to_send_one(api: TestClient) -> None:
    response = api.get("/api/indicators/active-plans")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401_not_recognised(api: TestClient) -> None:
    response = api.get("/api/position", headers={"Authorization": "Bearer guessed"})
    assert response.status_code == 401
    assert "not recognised" in response.json()["detail"]


def test_liveness_and_docs_need_no_token(api: TestClient) -> None:
    assert api.get("/healthz").status_code == 200
    assert api.get("/docs").status_code == 200


@pytest.mark.parametrize("reader", list(TOKENS))
def test_every_role_reads_the_suppressed_aggregates(api: TestClient, reader: str) -> None:
    response = api.get("/api/indicators/active-plans?from=2025-06&to=2025-06",
                       headers=bearer(reader))
    assert response.status_code == 200
    assert {f["area"] for f in response.json()["figures"]} >= {"855", "856", "partnership"}


def test_a_dashboard_token_may_not_read_person_level_rows(api: TestClient) -> None:
    response = api.get(PEOPLE, headers=bearer("wallboard"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "the dashboard token 'wallboard' may read partnership aggregates only, not "
        "person-level rows (GET /api/indicators/active-plans/discrepancy/people)"
    )


def test_an_la_may_not_ask_for_another_las_people(api: TestClient) -> None:
    response = api.get(f"{PEOPLE}&la=855", headers=bearer("leicester"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "organisation 856 may not read person-level rows for LA 855"
    )


def test_a_partner_sees_only_the_people_its_own_events_mention(api: TestClient, events) -> None:
    # when Leicester and the ICB read the discrepancy lists
    leicester = api.get(PEOPLE, headers=bearer("leicester"))
    icb = api.get(PEOPLE, headers=bearer("icb"))
    # then Leicester sees ben (its plan) but not cara (only health's events mention her) nor dan
    assert sides(leicester.json(), "856") == ([events.person("ben")], [])
    assert sides(leicester.json(), "855") == ([], [])
    assert leicester.headers["x-person-rows"] == "1"
    assert leicester.headers["x-person-rows-withheld"] == "2"
    # and the ICB sees cara but not ben
    assert sides(icb.json(), "856") == ([], [events.person("cara")])


def test_a_partner_whose_events_mention_nobody_sees_no_one(api: TestClient) -> None:
    body = api.get(PEOPLE, headers=bearer("school")).json()
    assert all(p["la_only"] == [] and p["health_only"] == [] for p in body["people"])


def test_the_auditor_sees_everyone(api: TestClient, events) -> None:
    body = api.get(PEOPLE, headers=bearer("auditor")).json()
    assert sides(body, "856") == ([events.person("ben")], [events.person("cara")])
    assert sides(body, "855") == ([events.person("dan")], [])


def test_every_person_level_read_and_refusal_is_in_the_access_log(api: TestClient) -> None:
    # given a read by Leicester, a refusal of the wallboard, and an aggregate read
    api.get(PEOPLE, headers=bearer("leicester"))
    api.get(PEOPLE, headers=bearer("wallboard"))
    api.get("/api/indicators/active-plans", headers=bearer("icb"))
    # when the auditor reads the access log
    entries = api.get("/api/audit/access-log", headers=bearer("auditor")).json()["entries"]
    # then both person-level requests are there, newest first, and the aggregate read is not
    assert [(e["token_name"], e["status"], e["person_rows"], e["withheld_rows"])
            for e in entries] == [("wallboard", 403, 0, 0), ("leicester", 200, 1, 2)]
    leicester = entries[1]
    assert (leicester["org"], leicester["role"], leicester["path"], leicester["query"]) == (
        "856", "partner", "/api/indicators/active-plans/discrepancy/people", "month=2025-06",
    )
    assert "aggregates only" in entries[0]["reason"]


@pytest.mark.parametrize("reader", ["leicester", "wallboard"])
def test_only_auditors_read_the_access_log(api: TestClient, reader: str) -> None:
    response = api.get("/api/audit/access-log", headers=bearer(reader))
    assert response.status_code == 403
    assert response.json()["detail"].endswith(
        "may not read GET /api/audit/access-log: auditors only")


def test_an_unmarked_endpoint_that_returns_people_is_screened_too(
    store: SqliteDatasetStore, record, events, registry, access_log
) -> None:
    # given an endpoint added later that forgot the PERSON_LEVEL marker
    record(events.plan_issued("ben", date(2025, 4, 1)),
           events.health_flag_set("cara", date(2025, 5, 5)))
    app = create_app(store, access=AccessControl(registry, access_log, store))

    @app.get("/api/new-list")
    def new_list() -> dict:
        return {"count": 2, "people": [{"person_key": events.person("ben")},
                                       {"person_key": events.person("cara")}]}

    client = TestClient(app)
    # then a dashboard is refused, and a partner sees only its own people (count adjusted)
    assert client.get("/api/new-list", headers=bearer("wallboard")).status_code == 403
    body = client.get("/api/new-list", headers=bearer("leicester")).json()
    assert body == {"count": 1, "people": [{"person_key": events.person("ben")}]}


def test_the_dashboard_sign_in_cookie_works_like_a_bearer_token(api: TestClient) -> None:
    api.cookies.set("sendx_token", "token-of-auditor")
    assert api.get("/api/position").status_code == 200


def test_screening_keeps_allowed_rows_and_counts_what_it_withheld() -> None:
    a, b = "p_" + "a" * 32, "p_" + "b" * 32
    document = {"people": [{"person_key": a, "n": 1}, {"person_key": b}], "keys": [a, b, "x"]}
    assert screen(document, {a}) == (
        {"people": [{"person_key": a, "n": 1}], "keys": [a, "x"]}, 2, 2,
    )


def test_the_mention_index_names_each_organisation_whose_events_are_about_a_person(
    store, record, events
) -> None:
    record(events.plan_issued("amira", date(2025, 3, 3)),
           events.health_flag_set("amira", date(2025, 3, 10)))
    assert organisations_mentioning(store, events.person("amira")) == {"856", "QK1"}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ('name = "x"\nrole = "partner"\nsha256 = "' + "a" * 64 + '"',
         "token 1 ('x'): a partner token needs org = '<organisation code>'"),
        ('name = "x"\nrole = "partner"\norg = "999"\nsha256 = "' + "a" * 64 + '"',
         "token 1 ('x'): organisation '999' is not in the partnership"),
        ('name = "x"\nrole = "admin"\nsha256 = "' + "a" * 64 + '"', "token 1: role:"),
        ('name = "x"\nrole = "auditor"\nsha256 = "secret"', "token 1: sha256: String should match"),
        ('name = "x"\nrole = "auditor"\ntoken = "plain"\nsha256 = "' + "a" * 64 + '"',
         "token 1: token: Extra inputs are not permitted"),
    ],
)
def test_a_bad_tokens_file_is_refused_naming_the_entry_and_field(
    tmp_path: Path, entry: str, says: str
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(f"[[token]]\n{entry}\n")
    with pytest.raises(ValueError) as error:
        TokenRegistry.from_toml(path)
    assert says in str(error.value) and str(path) in str(error.value)


def test_demo_tokens_are_written_as_hashes_and_each_identifies_its_holder(tmp_path: Path) -> None:
    # when `sendx run` writes the demo tokens
    tokens = write_demo_tokens(tmp_path)
    # then the configuration holds only hashes, and every token identifies its role and org
    config = tokens_file(tmp_path).read_text()
    registry = TokenRegistry.from_toml(tokens_file(tmp_path))
    for token in tokens:
        assert token.token not in config
        principal = registry.identify(token.token)
        assert principal is not None and principal.role is token.role
        assert (principal.org.code if principal.org else None) == token.org
    assert {t.role for t in tokens} == set(Role)
    assert (tmp_path / "access" / "demo-tokens.txt").stat().st_mode & 0o077 == 0
