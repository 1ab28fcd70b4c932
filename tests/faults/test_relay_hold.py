"""A stored event that cannot be turned into a valid contract event holds the relay, loudly:
what precedes it is shared, nothing after it is shared out of order, nothing is skipped."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from fault_harness import nhs_numbers
from nats.js import JetStreamContext

from contracts.envelope import Envelope
from contracts.topology import organisation
from services.bus.streams import EVENTS_STREAM
from services.config import Settings
from services.la.application import LaApplication
from services.la.contract import LaContract
from services.la.ingest import LA_CATALOGUE
from services.relay import Relay, Stamp
from services.store import store_env

pytestmark = pytest.mark.integration

KEY = b"fault-partnership"


async def test_an_unshareable_stored_event_holds_the_relay_after_sharing_what_precedes_it(
    js: JetStreamContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given an LA that stored five registrations, the third of which its translator rejects
    org = organisation("856")
    settings = Settings(data_dir=tmp_path, store="sqlite", partnership_key=KEY, cipher_key=None)
    app = LaApplication(org, store_env(org, settings))
    for nhs in nhs_numbers(5):
        fields = {"nhs_number": nhs, "given_name": "A", "family_name": "B",
                  "born_on": "2012-03-04"}
        app.execute(LA_CATALOGUE.parse("person.register", fields))
    contract = LaContract(app, KEY)
    shareable: list[int] = []

    def translate(event: Any, stamp: Stamp) -> Envelope | None:
        envelope = contract(event, stamp)
        if envelope is not None and stamp.source_position not in shareable:
            shareable.append(stamp.source_position)
        if envelope is not None and shareable[2:3] == [stamp.source_position]:
            raise ValueError("birth_month: String should match pattern")
        return envelope

    relay = Relay(app, org, translate, js, poll_interval=0.1)
    # when the relay runs for a while
    with caplog.at_level(logging.ERROR, logger="services.relay"):
        task = asyncio.create_task(relay.run())
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    app.factory.close()
    # then the two events before it are shared, and nothing after it
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 2
    # and the log says which stored event holds it and why, again on each poll
    held = [r.getMessage() for r in caplog.records if "held" in r.getMessage()]
    assert len(held) > 1
    assert f"stored event {shareable[2]} (" in held[0]
    assert "cannot be shared as a contract event: birth_month" in held[0]
    assert "nothing after notification" in held[0]
