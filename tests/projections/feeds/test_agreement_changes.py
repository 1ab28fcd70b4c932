"""A changed agreement file applied by the running feed process (`sendx feeds`, as the `feeder`
user): adopted from a recorded point between batches, the new clause's deliveries only for
events after it (no backfill); a broken file refused naming every problem, the agreement in
effect kept."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from contracts.feeds import SOURCE_SEQ_HEADER
from projections.feeds.store import FeedStore
from runtime.bus.credentials import credentials_for
from sendx.supervisor import sendx_command
from tests.projections.conftest import EventFactory
from tests.projections.feeds.feeds_harness import FeedBus, Recipient, agreement_text
from tests.runtime.bus.conftest import SecuredBus
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ON = date(2026, 5, 4)
F = EventFactory()
PLANS_TO_ICB = """
id = "icb-plans"
recipient = "QK1"
sources = ["la"]
events = ["ehc.plan_issued"]
cohort = "mentioned"
"""
DIAGNOSES_TO_856 = """
id = "la-856-diagnoses"
recipient = "856"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "caseload"
caseload_from = ["ehc.assessment_requested"]
"""
CHANGED = re.compile(r"feeds: agreement test-agreement \(\w+\) in effect after stream sequence "
                     r"(\d+); recipients QK1, 856, replacing test-agreement")


class FeedCommand:
    """`sendx feeds --agreement FILE` in its own process, its output in a file."""

    def __init__(self, tmp_path: Path, secured_bus: SecuredBus) -> None:
        self.agreement = tmp_path / "agreements.toml"
        self.store_path = tmp_path / "feeds.sqlite"
        self.log = tmp_path / "feeds.log"
        self._bus = secured_bus
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        login = credentials_for("feeder", self._bus.data_dir)
        env = {"NATS_URL": self._bus.server.url, "SENDX_DATA_DIR": str(self._bus.data_dir),
               "SENDX_NATS_USER": login["user"], "SENDX_NATS_PASSWORD": login["password"],
               "SENDX_METRICS_PORT": "0", "SENDX_FEEDS_AGREEMENT_INTERVAL": "0.2"}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                sendx_command("feeds", "--agreement", str(self.agreement),
                              "--store", str(self.store_path)),
                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def feeds(tmp_path: Path, secured_bus: SecuredBus) -> Iterator[FeedCommand]:
    command = FeedCommand(tmp_path, secured_bus)
    yield command
    command.stop()


def ids(*envelopes) -> list[str]:
    return [str(e.event_id) for e in envelopes]


async def test_a_changed_agreement_applies_live_from_a_recorded_point_and_a_broken_one_is_refused(
    feeds: FeedCommand, bus: FeedBus,
) -> None:
    # given a running feed process under an agreement giving the ICB plans
    feeds.agreement.write_text(agreement_text(PLANS_TO_ICB))
    feeds.start()
    await eventually(lambda: "feeds: agreement test-agreement" in feeds.output(), timeout=30,
                     what="the feed process to start")
    icb, leicester = await bus.recipient("QK1"), await bus.recipient("856")
    store = FeedStore(feeds.store_path)
    try:
        known = F.referral_made("ann", ON, by="QK1")
        plan = F.plan_issued("ann", ON, la="856")
        on_caseload = F.assessment_requested("eve", ON, la="856")
        diagnosed_before = F.diagnosis("eve", ON, by="QK1")
        last = (await bus.publish(known, plan, on_caseload, diagnosed_before))[-1]
        await eventually(lambda: store.position() >= last, what="the feed to apply them")

        # when the file gains a clause giving Leicester diagnoses for its caseload
        feeds.agreement.write_text(agreement_text(PLANS_TO_ICB, DIAGNOSES_TO_856))
        changed = await eventually(lambda: CHANGED.search(feeds.output()), timeout=20,
                                   what="the change to be adopted")
        point = int(changed.group(1))
        assert point >= last
        assert store.epochs()[-1].effective_after == point
        diagnosed_after = F.diagnosis("eve", ON, "adhd", by="QK1")
        joined = F.assessment_requested("gil", ON, la="856", case="C2")
        gil_diagnosed = F.diagnosis("gil", ON, by="QK1")
        second_plan = F.plan_issued("ann", ON, la="856", plan="P2")
        await bus.publish(diagnosed_after, joined, gil_diagnosed, second_plan)

        # then the new clause delivers only what came after the point: eve joined the caseload
        # before it, so neither of her diagnoses is sent (no backfill); gil's is
        await eventually(lambda: _has(leicester, 1), what="Leicester's delivery", timeout=20)
        await eventually(lambda: _has(icb, 2), what="the ICB's plans", timeout=20)
        assert leicester.event_ids() == ids(gil_diagnosed)
        assert all(int(r.headers[SOURCE_SEQ_HEADER]) > point for r in leicester.got)
        assert icb.event_ids() == ids(plan, second_plan)

        # when the file is broken and the process is told to look (SIGHUP)
        feeds.agreement.write_text(agreement_text(
            PLANS_TO_ICB, DIAGNOSES_TO_856.replace('["icb"]', '["provider"]')
            .replace('"health.diagnosis_recorded"', '"health.diagnosis_recorded", "ehc.nope"')))
        assert feeds.process is not None
        feeds.process.send_signal(signal.SIGHUP)
        refused = await eventually(
            lambda: [line for line in feeds.output().splitlines()
                     if "agreement change refused" in line], what="the refusal", timeout=20)

        # then it names every problem, and the agreement in effect keeps working
        [line] = refused
        assert "test-agreement" in line and "stays in effect" in line
        assert "source provider (provider) does not publish health.diagnosis_recorded" in line
        assert "ehc.nope is not an event type of the standard" in line
        again = F.diagnosis("gil", ON, "adhd", by="QK1")
        await bus.publish(again)
        await eventually(lambda: _has(leicester, 2), what="the next delivery", timeout=20)
        assert leicester.event_ids() == ids(gil_diagnosed, again)
        assert len(store.epochs()) == 2
    finally:
        store.close()


async def _has(recipient: Recipient, count: int) -> bool:
    return len(await recipient.take()) >= count
