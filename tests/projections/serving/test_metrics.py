"""The projector's and the API's /metrics and /readyz, after real traffic on a real nats-server."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from contracts.subjects import event_subject
from projections.serving.api import create_app
from runtime.bus.nats_server import free_port
from runtime.health import add_monitoring
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


async def test_the_api_reports_its_read_models_position_and_lag(
    store, tracker_store, record, events
) -> None:
    # given an API over a dataset that has applied two events, and a stream that holds five
    record(
        events.plan_issued("amira", date(2025, 5, 2)), events.plan_issued("ben", date(2025, 5, 2))
    )

    async def five() -> int:
        return 5

    stores = {"dataset": store, "tracker": tracker_store}
    app = add_monitoring(create_app(store, tracker=tracker_store), api_monitor(stores, five))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        # when Prometheus scrapes it
        samples = parse((await http.get("/metrics")).text)
        ready = await http.get("/readyz")
    # then it shows how far behind the stream the figures it serves are
    assert value(samples, "sendx_projection_position", projection="dataset") == 2
    assert value(samples, "sendx_consumer_lag", projection="dataset") == 3
    assert value(samples, "sendx_stream_last_sequence") == 5
    assert ready.status_code == 200


async def test_the_api_is_not_ready_when_it_cannot_read_the_stream(store, tracker_store) -> None:
    # given an API whose bus is unreachable
    async def unreachable() -> None:
        return None

    stores = {"dataset": store, "tracker": tracker_store}
    app = add_monitoring(create_app(store, tracker=tracker_store), api_monitor(stores, unreachable))
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
