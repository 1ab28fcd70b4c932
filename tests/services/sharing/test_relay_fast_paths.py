"""The relay's per-event shortcuts give exactly the bytes of the plain path.

`seal_batch` seals only envelopes with personal fields and asks the key store only for keys it
has not cached; `chain` builds each chained item directly. The bytes are what the hash chain
and the stream's duplicate window depend on, so each is compared with the plain computation:
every envelope through `seal`/`withhold` with a key fetched from the store, and
`model_copy(prev_hash) + encode` with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from nats.js import JetStreamContext
from stories import PARTNERSHIP_KEY
from test_relay import record_stories

from contracts.chain import bytes_hash
from contracts.codec import encode
from contracts.sealing import personal_fields, seal, withhold
from runtime.keystore import PersonKeyStore
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.la.translation import LaContract
from services.sharing.relay import Outgoing, Relay

pytestmark = pytest.mark.integration

NHS_NUMBER = "9434765919"
"""The first story's child, erased below."""


async def plain_seal(relay: Relay, keys: PersonKeyStore, batch: list[Outgoing]) -> list[Outgoing]:
    """Every envelope about a person with personal data through `seal` or `withhold`."""
    people = {o.envelope.person_key for o in batch
              if o.envelope is not None and personal_fields(o.envelope.payload)}
    found = {p: await keys.key_for(relay.org.code, p) for p in people}
    sealed = []
    for item in batch:
        envelope = item.envelope
        if envelope is not None and envelope.person_key in found:
            key = found[envelope.person_key]
            envelope = withhold(envelope) if key is None else seal(envelope, key)
        sealed.append(replace(item, envelope=envelope))
    return sealed


def plain_chain(batch: list[Outgoing], last_hash: str | None) -> list[Outgoing]:
    chained = []
    for item in batch:
        if item.envelope is None:
            chained.append(item)
            continue
        envelope = item.envelope.model_copy(update={"prev_hash": last_hash})
        body = encode(envelope)
        last_hash = bytes_hash(body)
        chained.append(replace(item, envelope=envelope, body=body, body_hash=last_hash))
    return chained


async def test_sealed_and_chained_bytes_equal_the_plain_path(
    la_app: LaApplication, js: JetStreamContext
) -> None:
    # given three children's stories, the first child erased afterwards (their key deleted)
    record_stories(la_app, 3)
    erase = {"nhs_number": NHS_NUMBER, "erased_on": "2026-01-05", "reason": "data_subject_request"}
    la_app.execute(LA_CATALOGUE.parse("person.erase", erase))
    relay = Relay(la_app, la_app.org, LaContract(la_app, PARTNERSHIP_KEY), js)
    notifications = la_app.recorder.select_notifications(start=1, limit=1_000)
    translated = relay.translate_batch(notifications)
    erasure = next(i for i, o in enumerate(translated)
                   if o.envelope is not None and o.envelope.type == "person.erased")
    before, erased = translated[:erasure], translated[erasure].envelope
    assert erased is not None
    assert any(o.envelope is not None and personal_fields(o.envelope.payload) for o in before)

    # when the relay seals the events before the erasure with nothing cached, again with
    # every key cached, and after the erasure (the erased child's personal fields withheld)
    uncached = await relay.seal_batch(before)
    cached = await relay.seal_batch(before)
    plain = await plain_seal(relay, PersonKeyStore(js), before)  # a fresh store: nothing cached
    await relay.keys.erase(la_app.org.code, erased.person_key)
    withheld = await relay.seal_batch(before)
    plain_withheld = await plain_seal(relay, PersonKeyStore(js), before)

    # then each is what the plain path makes of the same events, byte for byte once chained
    assert uncached == cached == plain
    assert withheld == plain_withheld
    for sealed in (plain, plain_withheld):
        chained = relay.chain(sealed, "ab" * 32)
        assert chained == plain_chain(sealed, "ab" * 32)
        assert [o.body for o in chained if o.body] == [encode(o.envelope) for o in chained
                                                       if o.envelope is not None]
    assert uncached != withheld  # the erased child's birth month is no longer sealed
