"""The per-person key store on a real nats-server: one key per person, gone for good on erasure,
and only the processes that need keys can reach them."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.js import JetStreamContext

from services.bus.streams import PERSON_KEYS_BUCKET, PERSON_KEYS_STREAM
from services.keystore import KeyStoreUnavailable, PersonKeyStore
from tests.bus.conftest import Connect, connect_as, secured_bus  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

PERSON = "p_" + "c" * 32
KEY_SUBJECT = f"$KV.{PERSON_KEYS_BUCKET}.{PERSON}"


async def test_two_relays_racing_for_a_new_person_agree_on_one_key(js: JetStreamContext) -> None:
    # given two services that have never seen the person, each with its own store client
    first, second = PersonKeyStore(js), PersonKeyStore(js)
    # when both ask for the person's key at once
    a, b = await asyncio.gather(first.key_for(PERSON), second.key_for(PERSON))
    # then they hold the same 256-bit key, and a reader finds it too
    assert a == b and a is not None and len(a) == 32
    assert await PersonKeyStore(js).lookup(PERSON) == a


async def test_erasing_a_person_leaves_no_revision_of_their_key(js: JetStreamContext) -> None:
    # given a person with a key
    store = PersonKeyStore(js)
    key = await store.key_for(PERSON)
    assert key is not None
    # when they are erased
    await store.erase(PERSON)
    # then nobody can read the key, nor mint a new one for them
    assert await PersonKeyStore(js).lookup(PERSON) is None
    assert await PersonKeyStore(js).key_for(PERSON) is None
    assert await store.erased(PERSON)
    # and the bucket's stream holds only the purge marker for them: no bytes of the key
    info = await js.stream_info(PERSON_KEYS_STREAM, subjects_filter=KEY_SUBJECT)
    assert info.state.subjects == {KEY_SUBJECT: 1}
    marker = await js.get_last_msg(PERSON_KEYS_STREAM, KEY_SUBJECT)
    assert marker.data in (b"", None) and marker.headers["KV-Operation"] == "PURGE"


async def test_a_person_never_registered_is_not_reported_erased(js: JetStreamContext) -> None:
    assert await PersonKeyStore(js).lookup(PERSON) is None
    assert not await PersonKeyStore(js).erased(PERSON)


async def test_sealing_without_the_bucket_says_how_to_create_it(nc) -> None:  # noqa: ANN001
    # given a server where the streams and the key bucket were never created
    store = PersonKeyStore(nc.jetstream())
    # then a relay is told what to run, and a reader finds no key (nothing was sealed)
    with pytest.raises(KeyStoreUnavailable, match="sendx nats"):
        await store.key_for(PERSON)
    assert await store.lookup(PERSON) is None


async def test_the_projector_reads_keys_but_cannot_write_or_purge_them(
    connect_as: Connect,  # noqa: F811
) -> None:
    # given a key created by LA 856's service on the secured bus
    la = await connect_as("856")
    key = await PersonKeyStore(la.nc.jetstream()).key_for(PERSON)
    projector = await connect_as("projector")
    # then the projector reads it
    assert await PersonKeyStore(projector.nc.jetstream()).lookup(PERSON) == key
    # but the server refuses its attempt to purge it, and the key survives
    with pytest.raises(nats.errors.TimeoutError):
        await projector.nc.jetstream().publish(KEY_SUBJECT, b"", timeout=1)
    assert await PersonKeyStore(la.nc.jetstream()).lookup(PERSON) == key


async def test_the_dashboard_cannot_read_anyones_key(connect_as: Connect) -> None:  # noqa: F811
    la, dashboard = await connect_as("856"), await connect_as("dashboard")
    await PersonKeyStore(la.nc.jetstream()).key_for(PERSON)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await PersonKeyStore(dashboard.nc.jetstream()).lookup(PERSON)
