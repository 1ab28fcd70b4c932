"""`sendx run`'s embedded server follows the agreement file: a valid change re-renders the NATS
permissions and reloads nats-server (a new recipient may then hold its feed consumer); a broken
one changes nothing and says why."""

from __future__ import annotations

from pathlib import Path

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from contracts.feeds import FEEDS_STREAM, org_feed
from runtime.bus.credentials import AUTH_INCLUDE_FILE
from sendx.commands.run import AgreementPermissions
from sendx.supervisor import ManagedBus
from tests.projections.feeds.feeds_harness import agreement_text
from tests.runtime.bus.conftest import (  # noqa: F401 - fixtures, used by name
    Connect,
    SecuredBus,
    connect_as,
    secured_bus,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration

TRUST_PLANS = """
id = "trust-plans"
recipient = "RT5"
sources = ["la"]
events = ["ehc.plan_issued"]
cohort = "mentioned"
"""
TRUST_FEED = ConsumerConfig(name="RT5-feed", durable_name="RT5-feed",
                            filter_subject=org_feed("RT5"), ack_policy=AckPolicy.EXPLICIT)


async def test_the_embedded_servers_permissions_follow_a_valid_agreement_change_only(
    connect_as: Connect, secured_bus: SecuredBus, tmp_path: Path,  # noqa: F811
) -> None:
    # given the run watching its agreement (the demo one's recipients: no feed for RT5)
    path = tmp_path / "agreements.toml"
    path.write_text(agreement_text(TRUST_PLANS.replace('"RT5"', '"QK1"')))
    notes: list[str] = []
    follow = AgreementPermissions(path, secured_bus.data_dir, ManagedBus(secured_bus.server),
                                  notes.append, interval=0.0)
    trust = await connect_as("icb-RT5-client")
    js = trust.nc.jetstream()
    with pytest.raises(nats.errors.TimeoutError):
        await js.add_consumer(FEEDS_STREAM, TRUST_FEED, timeout=0.5)

    # when the file is broken: nothing is rendered, and the note names the problem
    rendered = (secured_bus.data_dir / AUTH_INCLUDE_FILE).read_text()
    path.write_text(agreement_text(TRUST_PLANS.replace('"RT5"', '"XX9"')))
    follow()
    assert (secured_bus.data_dir / AUTH_INCLUDE_FILE).read_text() == rendered
    [note] = notes
    assert "NATS permissions unchanged" in note
    assert "recipient XX9 is not in the partnership" in note

    # when it gives RT5 a feed: rendered again, the server reloaded, RT5 may hold its consumer
    path.write_text(agreement_text(TRUST_PLANS))
    follow()
    assert "nats-server reloaded" in notes[-1] and "feeds for RT5" in notes[-1]

    async def allowed() -> bool:
        try:
            await js.add_consumer(FEEDS_STREAM, TRUST_FEED, timeout=0.5)
        except nats.errors.TimeoutError:
            return False
        return True

    await eventually(allowed, what="RT5's feed consumer after the reload")
