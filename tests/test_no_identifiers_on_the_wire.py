"""Nothing that identifies a child leaves an organisation, yet the same child links across them.

Every service kind runs against a real nats-server (in this process, each with its own SQLite
store, relay and command endpoint), a slice of the demo partnership is imported through each
organisation's NATS import API, and then EVERY message on SEND_EVENTS is read: none may hold an
NHS number, a name or a full date of birth, and the same child's person key must arrive from an
LA, an NHS organisation and a provider.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import decode
from contracts.topology import OrgKind
from runtime.bus.streams import EVENTS_STREAM
from runtime.partnership import DEMO_PARTNERSHIP, organisation
from runtime.settings import Settings
from sendx.demo.children import children
from sendx.demo.extracts import extract
from services.domain.identity import person_key
from services.endpoint.client import ServiceClient
from services.endpoint.process import OrganisationService, definition_for
from tests.waiting import eventually

KEY = b"wire-test-partnership-key"
KIDS = children(40)


def extract_of(org: str) -> list[dict]:
    return extract(org, KIDS)


@pytest.fixture
async def partnership(nats_url: str, js: JetStreamContext, tmp_path: Path) -> AsyncIterator[None]:
    """Every organisation of the demo partnership serving, each with its own store."""
    settings = Settings(
        data_dir=tmp_path / "stores", store="sqlite", partnership_key=KEY, cipher_key=None
    )
    async with AsyncExitStack() as stack:
        for org in DEMO_PARTNERSHIP:
            service = OrganisationService(
                definition_for(org.kind),
                org,
                settings=settings,
                nats_url=nats_url,
                poll_interval=0.2,
            )
            await stack.enter_async_context(service)
        yield


async def read_everything(js: JetStreamContext, expected: int, timeout: float = 60.0) -> list:
    """Every message on SEND_EVENTS once the relays have published `expected` of them."""
    async def reached() -> int:
        count = (await js.stream_info(EVENTS_STREAM)).state.messages
        return count if count >= expected else 0

    count = await eventually(reached, timeout, what=f"{expected} events on the stream",
                             interval=0.2)
    consumer = await js.pull_subscribe("send.evt.>", durable="wire-audit", stream=EVENTS_STREAM)
    messages = []
    while len(messages) < count:
        batch = await consumer.fetch(500, timeout=5)
        for msg in batch:
            await msg.ack()
        messages += batch
    return messages


@pytest.mark.integration
def readable(data: bytes) -> bytes:
    """The message with each sealed field's ciphertext left out: base64 ciphertext is random
    letters, where a short name ("Uma") turns up by chance without anything having leaked."""
    message = orjson.loads(data)
    message["sealed"] = sorted(message.get("sealed") or {})
    return orjson.dumps(message)


@pytest.mark.slow
async def test_no_identifier_leaves_any_organisation_but_the_same_child_links(
    partnership: None, nc: Client, js: JetStreamContext
) -> None:
    # given the demo slice imported into every organisation through its NATS import API
    published = 0
    for org in DEMO_PARTNERSHIP:
        rows = extract_of(org.code)
        report = await ServiceClient(nc, org.code, timeout=60).import_rows(enumerate(rows, 1))
        assert report.rejected == 0, [r for r in report.rows if not r["accepted"]][:3]
        published += len(report.event_ids)
    # when every message on the stream is read
    messages = await read_everything(js, published)
    assert len(messages) == published
    # then no NHS number or name of any child is in any message's bytes or subject
    identifiers = {
        secret.encode(): f"child {kid.index}"
        for kid in KIDS
        for secret in (
            kid.nhs_number,
            kid.given_name,
            kid.family_name,
            f"{kid.nhs_number[:3]} {kid.nhs_number[3:6]} {kid.nhs_number[6:]}",
        )
    }
    leaks = [
        (msg.subject, owner)
        for msg in messages
        for secret, owner in identifiers.items()
        if secret in readable(msg.data) or secret in msg.subject.encode()
    ]
    assert not leaks, leaks[:5]
    # (and the NHS numbers are not in the raw bytes either, ciphertext included)
    assert not [m.subject for m in messages for kid in KIDS if kid.nhs_number.encode() in m.data]
    # and no message about a child holds that child's full date of birth (another child's
    # birthday may of course be the date something happened to someone else)
    born_on = {person_key(kid.nhs_number, KEY): kid.born_on.isoformat().encode() for kid in KIDS}
    births = [m.subject for m in messages if born_on[m.subject.rsplit(".", 1)[1]] in m.data]
    assert not births, births[:5]
    # and the personal fields (birth month, diagnosed condition) only ever travel sealed
    clear = [m.subject for m in messages
             if {"birth_month", "condition"} & set(orjson.loads(m.data)["payload"])]
    assert not clear, clear[:5]
    assert any(b'"sealed":{"birth_month"' in m.data for m in messages)
    # and each message is a valid contract event of its subject, from an allowed publisher
    kinds_by_key: dict[str, set[OrgKind]] = defaultdict(set)
    for msg in messages:
        event = decode(msg.data, subject=msg.subject)
        source = organisation(event.source_org)
        assert source.may_publish(event.type)
        kinds_by_key[event.person_key].add(source.kind)
    # and the same children arrive from an LA, an NHS organisation and a provider, linked
    linked = {key for key, kinds in kinds_by_key.items() if kinds == set(OrgKind)}
    expected_keys = {person_key(kid.nhs_number, KEY) for kid in KIDS}
    assert set(kinds_by_key) == expected_keys
    assert len(linked) >= 3, f"only {len(linked)} children link across all three kinds"
