"""End to end, in a real browser: what a partnership board uses, as an LA's own client reads
it. The figures open as of the latest data date (shown), the tracker pages through its young
people most overdue first, a table downloads as the CSV of what is on screen, the tiles show
the target in force with its RAG, and every view passes axe-core with no violations, at
desktop width and at 390 px (where nothing scrolls sideways); each LA is compared with the
others, the partnership and England.

Real SQLite read models (filled as the projector fills them, one batch), the query API with
access control on a free port, Debian's chromium driven by Playwright, and axe-core from npm
(`tests/e2e/axe/`, pinned by its lock file; injected from disk, never a CDN).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import uvicorn

from projections.access.policy import access_control_for
from projections.access.tokens import TOKENS_ENV, Role, write_demo_tokens
from projections.dataset.store import DatasetStore
from projections.reading.projection import StreamEvent
from projections.serving.api import create_app
from projections.tracker.store import TrackerStore
from runtime.bus.nats_server import free_port
from tests.e2e.test_dashboard_live import CHROMIUM_ARGS, browser_path  # noqa: F401
from tests.npm import npm_ci
from tests.projections.conftest import EventFactory

pytestmark = [pytest.mark.slow, pytest.mark.integration]

AXE = Path(__file__).parent / "axe"
LATEST = date(2025, 6, 30)
YOUNG_PEOPLE = 30


def history(events: EventFactory) -> list:
    """30 young people of LA 856 with plans (born over 12 months: due dates spread out); 12
    new plans issued in June 2025, 5 within 20 weeks; 6 first health assessments in June. The
    last thing that happened: 30 June 2025."""
    found = []
    for n in range(YOUNG_PEOPLE):
        person = f"young-{n}"
        found += [events.registered(person, f"2010-{n % 12 + 1:02d}"),
                  events.plan_issued(person, date(2020, 3, 2), case=f"Y{n}", plan=f"PY{n}")]
    for n in range(12):
        person, issued = f"new-{n}", date(2025, 6, 2 + n)
        waited = 140 if n < 5 else 150
        found += [events.assessment_requested(person, issued - timedelta(days=waited),
                                              case=f"N{n}"),
                  events.plan_issued(person, issued, case=f"N{n}", plan=f"PN{n}")]
    for n in range(6):
        person = f"new-{n}"
        found += [events.referral_made(person, date(2025, 1, 6) + timedelta(weeks=n),
                                       referral=f"R{n}"),
                  events.assessment_started(person, LATEST - timedelta(days=n), referral=f"R{n}")]
    found.append(events.advice_requested("last", LATEST, ref="A-last"))
    return found


@pytest.fixture
async def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    """The API and dashboard over read models holding `history`; yields (URL, LA 856's token)."""
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    data_dir = tmp_path / "data"
    token = next(t.token for t in write_demo_tokens(data_dir)
                 if t.role is Role.PARTNER and t.org == "856")
    dataset, tracker = DatasetStore(tmp_path / "dataset.sqlite"), TrackerStore(tmp_path / "t.db")
    batch = [StreamEvent(i, e) for i, e in enumerate(history(EventFactory()), start=1)]
    dataset.apply_batch(batch)
    tracker.apply_batch(batch)
    access = access_control_for(data_dir, dataset)
    app = create_app(dataset, tracker=tracker, access=access, today=lambda: date(2025, 9, 20))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        await task
        access.log.close()
        dataset.close()
        tracker.close()


async def too_wide(page) -> list[str]:  # noqa: ANN001
    """The innermost elements reaching past the viewport's right edge (for the message)."""
    return await page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => "
        "e.getBoundingClientRect().right > window.innerWidth + 1 && ![...e.children].some("
        "c => c.getBoundingClientRect().right > window.innerWidth + 1)).slice(0, 8).map("
        "e => e.tagName + '.' + e.className + '#' + e.id + ' ' + "
        "Math.round(e.getBoundingClientRect().right))")


async def violations(page) -> list[str]:  # noqa: ANN001
    """axe-core's violations on the page as it is, one line each (empty: none)."""
    await page.add_script_tag(path=str(npm_ci(AXE) / "axe-core" / "axe.min.js"))
    found = await page.evaluate("async () => (await axe.run(document)).violations.map("
                                "v => v.id + ': ' + v.help + ' ' + JSON.stringify("
                                "v.nodes.slice(0, 3).map(n => n.target)))")
    return list(found)


async def test_a_board_member_reads_pages_downloads_and_targets_accessibly(
    board: tuple[str, str], browser_path: str, tmp_path: Path,  # noqa: F811
) -> None:
    from playwright.async_api import async_playwright

    url, token = board
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                                accept_downloads=True)
            page = await context.new_page()
            await page.goto(url)
            await page.fill("#token", token)
            await page.click("main button[type=submit]")
            await page.wait_for_selector("#indicators")
            # the figures open as of the latest data date, which the page says, not today
            assert await page.input_value("#as_of") == "2025-06-30"
            assert "Latest data: 2025-06-30" in await page.inner_text('[data-testid=latest-data]')
            assert "2025-06" in await page.inner_text("#indicators-h")
            # the 20-week tile shows June against the 40% target in force, with its RAG
            target = await page.inner_text('[data-testid="target-twenty-week-timeliness"]')
            assert "Target 40.0% from 2024-07" in target and "Green: target met" in target
            assert "41.7%" in target  # 5 of 12 within 20 weeks
            ytd = '[data-testid="year_to_date-twenty-week-timeliness"]'
            assert (await page.inner_text(ytd)).startswith("41.7%")
            # the waits tile gives the median and 90th percentile weeks of June's assessments
            waits = await page.inner_text('[data-testid="latest-health-waits"]')
            assert "Median wait (weeks)" in waits and "90th percentile (weeks)" in waits
            # each LA beside the others and the partnership, and England's published figure
            compare = '[data-testid="compare-twenty-week-timeliness"]'
            await page.click(f"{compare} summary")
            compared = await page.inner_text(compare)
            assert "Leicester City Council" in compared and "Rutland County Council" in compared
            assert "England, 2024: 46.4% (same definition)" in compared
            assert "Percentage (%)" in await page.text_content(f"{compare} svg")
            found = await violations(page)
            assert found == [], "\n".join(found)
            # annual health check uptake is shown beside the tracker (nobody on the LD register)
            checks = await page.inner_text('[data-testid="health-checks"]')
            assert "On the register" in checks and "Leicester City Council" in checks
            assert "Aged 0-13" in await page.inner_text('[data-testid="support-register"]')
            # the tracker: 30 young people, 25 a page, most overdue first
            pager = '[data-testid="tracker-page"]'
            assert (await page.inner_text(pager)).startswith("Page 1 of 2 (30 young people")
            rows = page.locator('[data-testid="tracker-rows"] tbody tr')
            assert await rows.count() == 25
            async with page.expect_download() as download:
                await page.click("text=Download every young person who matches these filters")
            saved = tmp_path / "tracker.csv"
            await (await download.value).save_as(saved)
            people = {r["person_key"] for r in csv.DictReader(io.StringIO(saved.read_text()))}
            assert len(people) == YOUNG_PEOPLE  # every page, as filtered
            await page.click('[data-testid="tracker-next"]')
            await page.wait_for_selector(pager)
            assert (await page.inner_text(pager)).startswith("Page 2 of 2")
            assert await rows.count() == 5
            # a tile's figures download as the CSV of the same cells
            async with page.expect_download() as download:
                await page.click('[data-testid="csv-twenty-week-timeliness"]')
            saved = tmp_path / "twenty.csv"
            await (await download.value).save_as(saved)
            june = [r for r in csv.DictReader(io.StringIO(saved.read_text()))
                    if r["month"] == "2025-06" and r["area"] == "partnership"]
            assert (june[0]["counted"], june[0]["within_twenty_weeks"]) == ("12", "5")
            # at 390 px nothing scrolls sideways and the page still passes axe-core
            await page.set_viewport_size({"width": 390, "height": 844})
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page is {width} px wide at 390 px: {await too_wide(page)}"
            found = await violations(page)
            assert found == [], "\n".join(found)
            print(json.dumps({"pages": "ok"}))
        finally:
            await browser.close()
