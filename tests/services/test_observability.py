"""A service's /healthz, /readyz and /metrics, as Prometheus and the orchestrator see them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families
from stories import as_rows, story

from contracts.topology import OrgKind
from runtime.bus.nats_server import NatsServer, free_port
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from runtime.health import metrics_port
from runtime.metrics import ServiceMetrics, command_outcomes
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.client import ServiceClient
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a /metrics page, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_an_import_counts_each_row_by_outcome() -> None:
    # given an import reply with three new rows, one already imported and one refused
    reply = {"ok": True, "rows": [], "accepted": 4, "duplicates": 1, "rejected": 1}
    # when it is counted, then each row is one command
    assert command_outcomes(reply) == {"accepted": 3, "duplicate": 1, "rejected": 1}
    # and single commands count once, by what the partner was told
    assert command_outcomes({"ok": True, "event_ids": [], "duplicate": False}) == {"accepted": 1}
    assert command_outcomes({"ok": True, "event_ids": [], "duplicate": True}) == {"duplicate": 1}
    assert command_outcomes({"ok": False, "error": "bad"}) == {"rejected": 1}


def test_two_services_in_one_interpreter_keep_separate_counts() -> None:
    # given two services' metrics in one process (as in these tests)
    leicester, rutland = ServiceMetrics("856"), ServiceMetrics("857")
    # when one counts a command
    leicester.count_commands({"ok": True, "duplicate": False})
    # then only its registry shows it
    assert leicester.registry.get_sample_value(
        "sendx_commands_total", {"org": "856", "outcome": "accepted"}
    ) == 1
    assert rutland.registry.get_sample_value(
        "sendx_commands_total", {"org": "857", "outcome": "accepted"}
    ) == 0


def test_a_bad_metrics_port_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SENDX_METRICS_PORT", raising=False)
    assert metrics_port(None) == 0
    monkeypatch.setenv("SENDX_METRICS_PORT", "9101")
    assert metrics_port(None) == 9101
    assert metrics_port(9200) == 9200
    monkeypatch.setenv("SENDX_METRICS_PORT", "ninety")
    with pytest.raises(ValueError, match="SENDX_METRICS_PORT='ninety': must be a port number"):
        metrics_port(None)
    with pytest.raises(ValueError, match="--metrics-port must be between 0"):
        metrics_port(70000)


@pytest.fixture
async def running(
    nats_server: NatsServer, settings: Settings
) -> AsyncIterator[tuple[OrganisationService, str]]:
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    await nc.close()
    port = free_port()
    async with OrganisationService(
        definition_for(OrgKind.LA), organisation("856"), settings=settings,
        nats_url=nats_server.url, poll_interval=0.1, metrics_port=port,
    ) as service:
        yield service, f"http://127.0.0.1:{port}"


@pytest.mark.integration
async def test_metrics_show_the_commands_answered_and_the_events_published(
    running: tuple[OrganisationService, str], nats_url: str
) -> None:
    service, url = running
    # given a partner system that sends a four-command story, repeats its import, and errs once
    nc = await nats.connect(nats_url)
    client = ServiceClient(nc, "856", timeout=10)
    rows = list(enumerate(as_rows(story()), start=1))
    first = await client.import_rows(rows)
    again = await client.import_rows(rows)
    wrong = await client.command("ehc.issue_plan", {"case_id": "856-C-404"})
    assert first.accepted == 4 and again.duplicates == 4 and not wrong["ok"]
    js = nc.jetstream()

    async def relayed() -> bool:
        return (await js.stream_info(EVENTS_STREAM)).state.messages == 4

    await eventually(relayed)
    await nc.close()
    # when Prometheus scrapes the service
    samples = await scrape(url)
    # then the commands are counted by outcome, and the relay has published all four, lag 0
    assert sample(samples, "sendx_commands_total", org="856", outcome="accepted") == 4
    assert sample(samples, "sendx_commands_total", org="856", outcome="duplicate") == 4
    assert sample(samples, "sendx_commands_total", org="856", outcome="rejected") == 1
    assert sample(samples, "sendx_relay_published_events_total", org="856") == 4
    assert sample(samples, "sendx_relay_lag_notifications", org="856") == 0
    assert sample(samples, "sendx_nats_connected") == 1
    assert sample(samples, "process_open_fds") > 0


@pytest.mark.integration
async def test_a_service_is_not_ready_while_nats_is_down_and_ready_again_after(
    running: tuple[OrganisationService, str], nats_server: NatsServer
) -> None:
    _, url = running
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        # given a running service: alive and ready
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        checks = ["commands", "nats", "quarantine", "relay", "store"]
        assert ready.json() == {"ready": True, "checks": checks}
        # when nats-server stops
        nats_server.stop()

        async def refused() -> bool:
            return (await http.get("/readyz")).status_code == 503

        await eventually(refused)
        # then readiness says why, and the process is still alive (no restart wanted)
        answer = (await http.get("/readyz")).json()
        assert answer["ready"] is False
        assert any(r.startswith("nats: NATS connection") for r in answer["reasons"]), answer
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/metrics")).text.count("sendx_nats_connected 0.0") == 1
        # and when it comes back on the same port, the service is ready again
        nats_server.start()

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready_again, timeout=20)


@pytest.mark.integration
async def test_the_metrics_port_is_off_by_default_and_a_busy_port_is_named(
    nats_server: NatsServer, settings: Settings, tmp_path: Path
) -> None:
    # given a service without a port: it starts without a monitoring server
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    await nc.close()
    definition, org = definition_for(OrgKind.LA), organisation("856")
    async with OrganisationService(
        definition, org, settings=settings, nats_url=nats_server.url, metrics_port=0
    ) as quiet:
        assert quiet.monitoring is None
    # when a second service asks for a port already in use
    taken = free_port()
    async with OrganisationService(
        definition, org, settings=settings, nats_url=nats_server.url, metrics_port=taken,
    ) as first:
        second = OrganisationService(
            definition, organisation("857"), settings=settings, nats_url=nats_server.url,
            metrics_port=taken, sqlite_path=tmp_path / "857.sqlite",
        )
        # then it refuses to start, naming the address
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{taken}"):
            await second.start()
        await second.stop()
        assert first.monitoring is not None
