"""A recipient the server will not take (named live by the agreement before the NATS
permissions were rendered again) holds up no other recipient's feed, loses nothing, and gets
its deliveries, in order, once the permissions are rendered and nats-server reloaded."""

from __future__ import annotations

from datetime import date

import nats.errors
import pytest

from projections.feeds import publisher
from runtime.bus.credentials import embedded_auth
from tests.projections.conftest import EventFactory
from tests.projections.feeds.feeds_harness import FeedBus, Recipient, agreement_of
from tests.runtime.bus.conftest import SecuredBus
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ON = date(2026, 3, 2)
F = EventFactory()
PLANS_TO_THE_TRUST = """
id = "trust-plans"
recipient = "RT5"
sources = ["la"]
events = ["ehc.plan_issued"]
cohort = "everyone"
"""
DIAGNOSES_TO_856 = """
id = "la-856-diagnoses"
recipient = "856"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "everyone"
"""
AGREEMENT = agreement_of(PLANS_TO_THE_TRUST, DIAGNOSES_TO_856)


async def test_a_recipient_the_server_refuses_holds_up_no_one_and_loses_nothing(
    bus: FeedBus, secured_bus: SecuredBus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publisher, "ACK_TIMEOUT", 1.0)
    # given the server's permissions rendered from the demo agreement, which gives RT5 no feed,
    # and a feed process applying one that does
    await bus.start(AGREEMENT)
    leicester = await bus.recipient("856")
    plans = [F.plan_issued(name, ON, plan=f"P-{name}") for name in ("ada", "ben")]
    diagnoses = [F.diagnosis(name, ON, by="QK1") for name in ("ada", "ben", "cy")]
    # when plans (for RT5) and diagnoses (for 856) are published, interleaved
    await bus.publish(plans[0], diagnoses[0], plans[1], diagnoses[1], diagnoses[2])

    # then 856 gets every diagnosis although the server takes nothing for RT5
    async def leicester_has_all() -> bool:
        return len(await leicester.take()) == len(diagnoses)

    await eventually(leicester_has_all, what="856's diagnoses past the refused RT5", timeout=20)
    assert leicester.event_ids() == [str(d.event_id) for d in diagnoses]

    # and the delivery audit records them as delivered, RT5's plans as still to deliver
    def audited() -> bool:
        return all(r.feed_seq is not None for r in bus.store.deliveries(recipient="856"))

    await eventually(audited, what="856's deliveries marked in the audit", timeout=20)
    assert [d.event_id for d in bus.store.pending(10)] == [str(p.event_id) for p in plans]

    # when the permissions are rendered from the agreement in effect and the server reloaded
    embedded_auth(secured_bus.data_dir, agreement=AGREEMENT)
    secured_bus.server.reload()
    trusts: list[Recipient] = []

    async def trust_reads_its_feed() -> bool:  # (the server applies a reload in its own time)
        try:
            trusts.append(await bus.recipient("RT5"))
        except nats.errors.TimeoutError:
            return False
        return True

    await eventually(trust_reads_its_feed, what="RT5's client allowed its feed after the reload")
    [trust] = trusts

    # then RT5 gets its plans, in stream order, once its hold runs out
    async def trust_has_all() -> bool:
        return len(await trust.take()) == len(plans)

    await eventually(trust_has_all, what="RT5's plans after the reload", timeout=30)
    assert trust.event_ids() == [str(p.event_id) for p in plans]
    await bus.settle(leicester, trust)
    assert len(leicester.got) == len(diagnoses) and not bus.store.pending(10)
