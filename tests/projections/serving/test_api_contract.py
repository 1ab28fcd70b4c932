"""The API keeps its published contract: schemathesis, run against the real server with access
control and data, finds no answer that contradicts /openapi.json; and the documentation pages
load everything from the API itself, so they work on a machine without internet."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import uvicorn
from nats.js import JetStreamContext

from projections.access.log import AccessLog
from projections.access.policy import AccessControl
from projections.access.rate_limit import RATE_LIMIT_ENV
from projections.access.tokens import TokenEntry, TokenRegistry, hash_token
from projections.dataset.store import SqliteDatasetStore
from projections.serving.api import create_app
from projections.serving.live import LiveFeed
from projections.tracker.store import TrackerStore
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import free_port
from runtime.bus.outbound import alerts_stream, feeds_stream
from runtime.bus.streams import ensure_stream
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
AUDITOR_TOKEN = "token-of-the-auditor"
MID_JUNE_2025 = date(2025, 6, 15)


@pytest.fixture
async def api_url(store: SqliteDatasetStore, tracker_store: TrackerStore, record, events,
                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nats_url: str,
                  js: JetStreamContext) -> AsyncIterator[str]:
    """The API on a free loopback port, with tokens, the access log, and plans in both models,
    beside a real nats-server (the deliveries and alert counts read from its streams)."""
    await ensure_stream(js, alerts_stream())
    await ensure_stream(js, feeds_stream())
    # a budget schemathesis's burst of requests stays inside: 429 is documented, but a run
    # that is mostly 429s would check nothing else
    monkeypatch.setenv(RATE_LIMIT_ENV, "10000/second")
    # given LA 856 requested and issued amira's plan, health flagged it, ben's plan is LA-only,
    # cara's flag health-only, and Leicestershire (855) issued dan's plan
    record(
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
        events.health_flag_set("amira", date(2025, 6, 3)),
        events.plan_issued("ben", date(2025, 4, 1), case="C2", plan="P2"),
        events.health_flag_set("cara", date(2025, 5, 5)),
        events.plan_issued("dan", date(2025, 2, 2), la="855"),
        events.advice_requested("amira", date(2025, 1, 20)),
        events.placement_started("ben", date(2025, 3, 3)),
    )
    tokens = TokenRegistry([TokenEntry(name="auditor", sha256=hash_token(AUDITOR_TOKEN),
                                       role="auditor")])
    log = AccessLog(tmp_path / "access-log.sqlite")
    live = LiveFeed(("dataset", "tracker", "alerts"), nats_url=nats_url,
                    connect=lambda url: connect_bus(url, name="test-api"))
    app = create_app(store, tracker=tracker_store, access=AccessControl(tokens, log, store),
                     today=lambda: MID_JUNE_2025, live=live)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, 20, what="server.started", interval=0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        log.close()


@pytest.mark.slow
async def test_schemathesis_finds_no_answer_that_contradicts_the_openapi_document(
    api_url: str,
) -> None:
    # when schemathesis (reading schemathesis.toml at the repository root) tries every route
    # as the auditor, who may read them all
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{api_url}/openapi.json",
        "-H", f"Authorization: Bearer {AUDITOR_TOKEN}",
        "--max-examples", "25", "--seed", "1", "--no-color",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output = bytearray()

    async def collect() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(4096):
            output.extend(chunk)

    try:
        async with asyncio.timeout(180):
            await collect()
            await process.wait()
    except TimeoutError:
        pytest.fail("schemathesis did not finish in 180 s; its output so far:\n"
                    + output.decode(errors="replace"))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    # then every answer matched the document
    report = output.decode(errors="replace")
    assert process.returncode == 0, report
    assert "No issues found" in report, report
    assert f"Configuration:    {ROOT / 'schemathesis.toml'}" in report, report


class _Assets(HTMLParser):
    """The URLs of a page's scripts and stylesheets (and icons: a CDN icon leaks requests too)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"])
        elif tag == "link" and found.get("href"):
            self.urls.append(found["href"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_pages_load_every_asset_from_the_api_itself(
    api_url: str, page: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        # when a reader without a token opens the page
        response = await client.get(f"{api_url}{page}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        parser = _Assets()
        parser.feed(response.text)
        # then it has scripts to load, each relative or on the API's own host and port
        assert any(url.endswith(".js") for url in parser.urls), parser.urls
        resolved = [urljoin(f"{api_url}{page}", url) for url in parser.urls]
        foreign = [u for u in resolved if urlsplit(u).netloc != urlsplit(api_url).netloc]
        assert foreign == []
        # and every one of them answers
        for url in resolved:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
