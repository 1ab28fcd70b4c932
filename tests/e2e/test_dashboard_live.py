"""End to end, in a real browser: an LA issues a plan through its service and the dashboard's
figure changes live, without a reload.

Real everything: nats-server (tests/conftest.py), the LA service (store, relay, command API),
the dataset runner announcing its commits, the query API with access control and the live
feed on a free port, and Debian's chromium driven by Playwright. Needs `pip install playwright`
and `apt-get install chromium` (the Makefile provisions both); a missing browser FAILS the
test with what to install — it never skips silently. The screenshot is saved as
`dashboard-live.png` in the test's tmp directory (printed; see `pytest -s`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from nats.js import JetStreamContext

from contracts.topology import OrgKind
from projections.access.policy import access_control_for
from projections.access.tokens import TOKENS_ENV, Role, write_demo_tokens
from projections.dataset.store import SqliteDatasetStore
from projections.reading.runner import ConsumerSettings, ProjectionRunner
from projections.serving.api import create_app
from projections.serving.live import ChangeAnnouncer, LiveFeed
from runtime.bus.connection import connect_bus
from runtime.bus.nats_server import free_port
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.client import ServiceClient
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HEADLINE = '[data-testid="headline-LA count"]'


def nhs_number(serial: int) -> str:
    """A valid NHS number (modulus 11 check digit) from a 9-digit serial."""
    for base in range(serial, serial + 20):
        digits = f"{base:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            return digits + "0"
        if check != 10:
            return digits + str(check)
    raise AssertionError("no valid NHS number near the serial")


async def issue_plan(client: ServiceClient, child: int, today: str, requested: str) -> None:
    """Register a child, request an assessment, decide to assess, issue the plan: via the API."""
    number, case = nhs_number(943476000 + child * 37), f"856-C-{child}"
    commands = [
        ("person.register", {"nhs_number": number, "given_name": f"Child{child}",
                             "family_name": "Demo", "born_on": "2012-03-10"}),
        ("ehc.request_assessment", {"nhs_number": number, "case_id": case,
                                    "requested_on": requested, "requested_by": "parent"}),
        ("ehc.decide_assessment", {"case_id": case, "decided_on": requested,
                                   "decision": "assess"}),
        ("ehc.issue_plan", {"case_id": case, "plan_id": f"856-P-{child}", "issued_on": today,
                            "primary_need": "ASD", "placement": "mainstream"}),
    ]
    for name, fields in commands:
        reply = await client.command(name, fields)
        assert reply["ok"], reply


@pytest.fixture
def browser_path() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(
            "chromium is not installed: run `apt-get install -y chromium` as root (make test "
            "does this via deploy/local/ensure-chromium.sh); Playwright cannot download browsers"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("the playwright package is missing: pip install playwright")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.fixture
async def partnership(nats_url: str, js: JetStreamContext, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    """LA 856's service, the projector and the API; yields (dashboard URL, LA 856's token)."""
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    settings = Settings(data_dir=tmp_path / "data", store="sqlite",
                        partnership_key=b"e2e-partnership-key", cipher_key=None)
    token = next(t.token for t in write_demo_tokens(settings.data_dir)
                 if t.role is Role.PARTNER and t.org == "856")
    nc = await connect_bus(nats_url, name="e2e-projector")
    store = SqliteDatasetStore(tmp_path / "dataset.sqlite")
    runner = ProjectionRunner(nc, "dataset", store,
                              ConsumerSettings(batch_size=50, fetch_timeout=0.2, retry_delay=0.2),
                              on_commit=ChangeAnnouncer(nc, "dataset"))
    access = access_control_for(settings.data_dir, store)
    app = create_app(store, access=access, live=LiveFeed(("dataset",), nc=nc, heartbeat=2.0))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    service = OrganisationService(definition_for(OrgKind.LA), organisation("856"),
                                  settings=settings, nats_url=nats_url, poll_interval=0.1)
    await service.start()
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(server.serve())]
    try:
        await eventually(lambda: server.started, 20, what="server.started")
        yield f"http://127.0.0.1:{port}", token
    finally:
        runner.stop()
        server.should_exit = True
        await asyncio.gather(*tasks)
        await service.stop()
        store.close()
        access.log.close()
        await nc.close()


async def test_a_plan_issued_through_the_la_service_changes_the_dashboard_live(
    partnership: tuple[str, str], browser_path: str, nc, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    url, token = partnership
    now = datetime.now(UTC).date()
    today, requested = now.isoformat(), (now - timedelta(days=70)).isoformat()
    client = ServiceClient(nc, "856", timeout=20)
    # given LA 856 has issued five plans this month (five, so the count is not suppressed)
    for child in range(5):
        await issue_plan(client, child, today, requested)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            # and a partner signed in to the dashboard, which reads 5 active plans
            await page.goto(url)
            await page.fill("#token", token)
            await page.click("main button[type=submit]")
            await page.wait_for_selector("#indicators")
            await page.wait_for_function(  # the live feed brings it up to date if it lagged
                "sel => document.querySelector(sel).textContent.trim() === '5'",
                arg=HEADLINE, timeout=20_000,
            )
            await page.wait_for_function(
                "() => document.querySelector('#live-status').textContent.includes('Live:')",
                timeout=10_000,
            )
            await page.evaluate("window.__notReloaded = true")
            # when the LA issues a sixth plan through its service
            await issue_plan(client, 5, today, requested)
            # then the figure becomes 6 on the open page, without a reload
            await page.wait_for_function(
                "sel => document.querySelector(sel).textContent.trim() === '6'",
                arg=HEADLINE, timeout=20_000,
            )
            assert await page.evaluate("window.__notReloaded === true")
            assert "Updated live" in await page.inner_text("#live-status")
            shot = tmp_path / "dashboard-live.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"dashboard screenshot: {shot}")
        finally:
            await browser.close()
