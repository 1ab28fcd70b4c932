"""The projector's and the API's /metrics and /readyz, after real traffic on a real nats-server;
on the API port, /metrics for the operator's token only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from contracts.subjects import event_subject
from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.tokens import (
    Role,
    TokenEntry,
    TokenRegistry,
    hash_token,
    write_demo_tokens,
)
from projections.serving.api import create_app
from projections.serving.monitoring import install_monitoring
from runtime.bus.nats_server import free_port
from runtime.metrics import api_monitor
from sendx.supervisor import ManagedProcess, sendx_command
from tests.waiting import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape_until(url: str, done, timeout: float = 30.0) -> Samples:
    """Scrape until `done(samples)`; the projector process takes a moment to start."""
    async with httpx.AsyncClient(timeout=5) as http:

        async def scrape() -> Samples | None:
            response = await http.get(f"{url}/metrics")
            samples = parse(response.text) if response.status_code == 200 else None
            return samples if samples is not None and done(samples) else None

        return await eventually(scrape, timeout, what=f"metrics at {url} as expected",
                                interval=0.2, ignore=(httpx.TransportError,))


@pytest.fixture
def projector(nats_url: str, js: JetStreamContext, tmp_path: Path):
    """`sendx projector` as its own process, metrics on a free port; stopped by PID."""
    port = free_port()
    process = ManagedProcess(
        "projector",
        sendx_command("projector", "--metrics-port", str(port)),
        tmp_path / "projector.log",
        env={"NATS_URL": nats_url, "SENDX_DATA_DIR": str(tmp_path / "data"),
             "SENDX_STORE": "sqlite", "SENDX_METRICS_PORT": "0"},
    )
    process.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.mark.integration
@pytest.mark.slow
async def test_the_projector_reports_what_it_applied_its_lag_and_its_dead_letters(
    projector: str, publish, js: JetStreamContext, events
) -> None:
    # given three plans and one message that is not JSON on the stream
    for name in ("amira", "ben", "cara"):
        await publish(events.plan_issued(name, date(2025, 5, 2)))
    await js.publish(event_subject("856", "ehc.plan_issued", events.person("dan")), b"{not json")

    # when the projector has caught up with all four messages
    def caught_up(samples: Samples) -> bool:
        return all(
            value(samples, "sendx_projection_position", projection=p) == 4
            for p in ("dataset", "tracker")
        )

    samples = await scrape_until(projector, caught_up)
    # then each projection applied the three events, has no lag, and dead-lettered the bad one
    for projection in ("dataset", "tracker"):
        assert value(samples, "sendx_projection_applied_events_total", projection=projection) == 3
        assert value(samples, "sendx_consumer_lag", projection=projection) == 0
        assert value(
            samples, "sendx_dead_letters_total", projection=projection, reason="bad_json"
        ) == 1
    assert value(samples, "sendx_stream_last_sequence") == 4
    # and it is alive and ready: connected, stores answering, consumers bound
    async with httpx.AsyncClient(base_url=projector, timeout=5) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == [
        "consumer dataset", "consumer tracker", "nats", "store dataset", "store tracker"
    ]


@pytest.mark.integration
async def test_more_events_show_as_lag_until_the_projector_catches_up(
    projector: str, publish, events
) -> None:
    # given a projector that has applied one plan
    await publish(events.plan_issued("amira", date(2025, 5, 2)))
    await scrape_until(
        projector, lambda s: value(s, "sendx_projection_position", projection="dataset") == 1
    )
    # when two more are published, then it reports them applied and the lag back at 0
    await publish(events.plan_issued("ben", date(2025, 5, 2)))
    await publish(events.plan_issued("cara", date(2025, 5, 2)))
    samples = await scrape_until(
        projector, lambda s: value(s, "sendx_projection_position", projection="dataset") == 3
    )
    assert value(samples, "sendx_consumer_lag", projection="dataset") == 0
    assert value(samples, "sendx_projection_applied_events_total", projection="dataset") == 3


HOLDERS = {"Leicester City": ("partner", "856"), "Wall dashboard": ("dashboard", None),
           "Auditor": ("auditor", None), "Operator": ("operator", None)}


def bearer(holder: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{holder}"}


@pytest.fixture
def access_log(tmp_path: Path) -> Iterator[AccessLog]:
    log = AccessLog(tmp_path / "access-log.sqlite")
    yield log
    log.close()


def secured_api(store, tracker_store, last: Callable[[], Awaitable[int | None]],
                access_log: AccessLog):
    """The API as `sendx api` builds it: access control from tokens, monitoring installed."""
    registry = TokenRegistry([
        TokenEntry(name=name, sha256=hash_token(f"token-of-{name}"), role=role, org=org)
        for name, (role, org) in HOLDERS.items()
    ])
    stores = {"dataset": store, "tracker": tracker_store}
    app = create_app(store, tracker=tracker_store,
                     access=AccessControl(registry, access_log, store))
    return install_monitoring(app, api_monitor(stores, last))


async def five() -> int:
    return 5


async def test_the_api_reports_its_read_models_position_and_lag_to_the_operator(
    store, tracker_store, record, events, access_log
) -> None:
    # given an API over a dataset that has applied two events, and a stream that holds five
    record(
        events.plan_issued("amira", date(2025, 5, 2)), events.plan_issued("ben", date(2025, 5, 2))
    )
    app = secured_api(store, tracker_store, five, access_log)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        # when Prometheus scrapes it with the operator's token
        scraped = await http.get("/metrics", headers=bearer("Operator"))
        ready = await http.get("/readyz")
    # then it shows how far behind the stream the figures it serves are
    assert scraped.status_code == 200, scraped.text
    samples = parse(scraped.text)
    assert value(samples, "sendx_projection_position", projection="dataset") == 2
    assert value(samples, "sendx_consumer_lag", projection="dataset") == 3
    assert value(samples, "sendx_stream_last_sequence") == 5
    # and the orchestrator's probe needs no token
    assert ready.status_code == 200


@pytest.mark.parametrize(("headers", "status", "holder", "says"), [
    ({}, 401, "-", "no access token"),
    ({"Authorization": "Bearer not-a-token"}, 401, "-", "not recognised"),
    (bearer("Wall dashboard"), 403, "Wall dashboard", "operators only"),
    (bearer("Leicester City"), 403, "Leicester City", "operators only"),
    (bearer("Auditor"), 403, "Auditor", "operators only"),
])
async def test_metrics_on_the_api_port_are_refused_to_anyone_but_the_operator_and_logged(
    store, tracker_store, access_log, headers, status, holder, says
) -> None:
    app = secured_api(store, tracker_store, five, access_log)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        # when someone other than the operator asks for the metrics
        refused = await http.get("/metrics", headers=headers)
    # then they are refused, told why, and get no metric
    assert refused.status_code == status
    assert says in refused.json()["detail"]
    assert "sendx_" not in refused.text
    # and the refusal is in the access log, with the holder where known
    (entry,) = [e for e in access_log.entries() if e.path == "/metrics"]
    assert (entry.token_name, entry.status) == (holder, status)
    assert says in (entry.reason or "")


async def test_the_operator_token_reads_monitoring_only(
    store, tracker_store, access_log
) -> None:
    app = secured_api(store, tracker_store, five, access_log)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        figures = await http.get("/api/indicators/active-plans", headers=bearer("Operator"))
    assert figures.status_code == 403
    assert "reads /metrics only" in figures.json()["detail"]


async def test_the_api_is_not_ready_when_it_cannot_read_the_stream(
    store, tracker_store, access_log
) -> None:
    # given an API whose bus is unreachable
    async def unreachable() -> None:
        return None

    app = secured_api(store, tracker_store, unreachable, access_log)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        # when the orchestrator probes it
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    # then it is alive but not ready, and says why
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["reasons"] == [
        "nats: cannot read SEND_EVENTS (the lag in /api/position is unknown)"
    ]


@pytest.mark.integration
async def test_sendx_api_serves_prometheus_on_its_own_monitoring_port(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    # given `sendx api` as deployed: demo tokens, and a monitoring port of its own
    data_dir = tmp_path / "data"
    operator = next(t.token for t in write_demo_tokens(data_dir) if t.role is Role.OPERATOR)
    api_port, monitoring_port = free_port(), free_port()
    process = ManagedProcess(
        "api", sendx_command("api", "--port", str(api_port)), tmp_path / "api.log",
        env={"NATS_URL": nats_url, "SENDX_DATA_DIR": str(data_dir), "SENDX_STORE": "sqlite",
             "SENDX_METRICS_PORT": str(monitoring_port)},
    )
    process.start()
    try:
        # when Prometheus scrapes the monitoring port without a token
        samples = await scrape_until(
            f"http://127.0.0.1:{monitoring_port}",
            lambda s: value(s, "sendx_stream_last_sequence") is not None,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as http:
            anonymous = await http.get("/metrics")
            operators = await http.get("/metrics", headers={"Authorization": f"Bearer {operator}"})
    finally:
        process.stop()
    # then it gets the API's metrics there; on the readers' port only the operator does
    assert value(samples, "sendx_projection_position", projection="dataset") == 0
    assert anonymous.status_code == 401
    assert operators.status_code == 200 and "sendx_stream_last_sequence" in operators.text
