"""The sealing key store on a real nats-server: one key per organisation and person, gone for
good on erasure, and only the processes that need keys can reach them; each organisation can
create and purge its own keys only (the generated permissions, refused by the server)."""

from __future__ import annotations

import asyncio
import os

import nats.errors
import pytest
from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.kv import KV_OP, KV_PURGE, MSG_ROLLUP_SUBJECT

from runtime.bus.streams import PERSON_KEYS_BUCKET, PERSON_KEYS_STREAM
from runtime.keystore import KeyStoreUnavailable, PersonKeyStore
from tests.runtime.bus.conftest import Connect, connect_as, secured_bus  # noqa: F401  (fixtures)
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PERSON = "p_" + "c" * 32
KEY_SUBJECT = f"$KV.{PERSON_KEYS_BUCKET}.856.{PERSON}"
LEGACY_SUBJECT = f"$KV.{PERSON_KEYS_BUCKET}.{PERSON}"
PURGE = {KV_OP: KV_PURGE, Header.ROLLUP: MSG_ROLLUP_SUBJECT}
"""The headers of a KV purge, as `KeyValue.purge` sends them."""


async def test_two_relays_racing_for_a_new_person_agree_on_one_key(js: JetStreamContext) -> None:
    # given two relays of one organisation that have never seen the person
    first, second = PersonKeyStore(js), PersonKeyStore(js)
    # when both ask for the person's key at once
    a, b = await asyncio.gather(first.key_for("856", PERSON), second.key_for("856", PERSON))
    # then they hold the same 256-bit key, and a reader finds it too
    assert a == b and a is not None and len(a) == 32
    assert await PersonKeyStore(js).lookup("856", PERSON) == a


async def test_each_organisation_seals_under_a_key_of_its_own(js: JetStreamContext) -> None:
    store = PersonKeyStore(js)
    la, icb = await store.key_for("856", PERSON), await store.key_for("QK1", PERSON)
    assert la is not None and icb is not None and la != icb
    assert await PersonKeyStore(js).lookup("QK1", PERSON) == icb


async def test_erasing_a_person_leaves_no_revision_of_the_organisations_key(
    js: JetStreamContext,
) -> None:
    # given a person with a key at the LA and one at the ICB
    store = PersonKeyStore(js)
    assert await store.key_for("856", PERSON) is not None
    icb_key = await store.key_for("QK1", PERSON)
    # when the LA erases them
    await store.erase("856", PERSON)
    # then nobody can read the LA's key, nor mint a new one for the LA
    assert await PersonKeyStore(js).lookup("856", PERSON) is None
    assert await PersonKeyStore(js).key_for("856", PERSON) is None
    assert await store.erased("856", PERSON)
    # and the bucket's stream holds only the purge marker for it: no bytes of the key
    info = await js.stream_info(PERSON_KEYS_STREAM, subjects_filter=KEY_SUBJECT)
    assert info.state.subjects == {KEY_SUBJECT: 1}
    marker = await js.get_last_msg(PERSON_KEYS_STREAM, KEY_SUBJECT)
    assert marker.data in (b"", None) and marker.headers["KV-Operation"] == "PURGE"
    # while the ICB's key, the ICB's to erase, is untouched
    assert await PersonKeyStore(js).lookup("QK1", PERSON) == icb_key
    assert not await store.erased("QK1", PERSON)


async def test_a_key_from_before_keys_were_per_organisation_still_opens_and_is_adopted(
    js: JetStreamContext,
) -> None:
    # given a person's key stored under the person key alone (before `<org>.<person>`)
    legacy = os.urandom(32)
    kv = await js.key_value(PERSON_KEYS_BUCKET)
    await kv.create(PERSON, legacy)
    # then a reader opens what any organisation sealed with it ...
    assert await PersonKeyStore(js).lookup("856", PERSON) == legacy
    # ... and a relay sealing anew adopts it, so old and new events decode with one key
    assert await PersonKeyStore(js).key_for("856", PERSON) == legacy
    # once that organisation erases the person, its events no longer read with the old key
    await PersonKeyStore(js).erase("856", PERSON)
    assert await PersonKeyStore(js).lookup("856", PERSON) is None
    assert await PersonKeyStore(js).lookup("QK1", PERSON) == legacy


async def test_a_person_never_registered_is_not_reported_erased(js: JetStreamContext) -> None:
    assert await PersonKeyStore(js).lookup("856", PERSON) is None
    assert not await PersonKeyStore(js).erased("856", PERSON)


async def test_sealing_without_the_bucket_says_how_to_create_it(nc) -> None:  # noqa: ANN001
    # given a server where the streams and the key bucket were never created
    store = PersonKeyStore(nc.jetstream())
    # then a relay is told what to run, and a reader finds no key (nothing was sealed)
    with pytest.raises(KeyStoreUnavailable, match="sendx nats"):
        await store.key_for("856", PERSON)
    assert await store.lookup("856", PERSON) is None


async def test_the_projector_reads_keys_but_cannot_write_or_purge_them(
    connect_as: Connect,  # noqa: F811
) -> None:
    # given a key created by LA 856's service on the secured bus
    la = await connect_as("856")
    key = await PersonKeyStore(la.nc.jetstream()).key_for("856", PERSON)
    projector = await connect_as("projector")
    # then the projector reads it
    assert await PersonKeyStore(projector.nc.jetstream()).lookup("856", PERSON) == key
    # but the server refuses its attempt to purge it, and the key survives
    with pytest.raises(nats.errors.TimeoutError):
        await projector.nc.jetstream().publish(KEY_SUBJECT, b"", timeout=1)
    assert await PersonKeyStore(la.nc.jetstream()).lookup("856", PERSON) == key


async def test_the_server_refuses_an_organisation_purging_or_overwriting_anothers_key(
    connect_as: Connect,  # noqa: F811
) -> None:
    # given LA 856's key for a child
    la_856, la_855 = await connect_as("856"), await connect_as("855")
    key = await PersonKeyStore(la_856.nc.jetstream()).key_for("856", PERSON)
    js_855 = la_855.nc.jetstream()
    # when LA 855's service login tries to purge LA 856's key, to overwrite it, and to purge
    # the person's key from before keys were per organisation
    with pytest.raises(nats.errors.TimeoutError):
        await js_855.publish(KEY_SUBJECT, b"", headers=PURGE, timeout=1)
    with pytest.raises(nats.errors.TimeoutError):
        await js_855.publish(KEY_SUBJECT, os.urandom(32), timeout=1)
    with pytest.raises(nats.errors.TimeoutError):
        await js_855.publish(LEGACY_SUBJECT, b"", headers=PURGE, timeout=1)
    # then the server refused each, naming the subject, and LA 856's key is as it was
    await eventually(lambda: len(la_855.violations()) >= 3, 20, what="the server's refusals")
    assert la_855.violations() == [
        f'nats: permissions violation for publish to "{subject.lower()}"'
        for subject in (KEY_SUBJECT, KEY_SUBJECT, LEGACY_SUBJECT)
    ]
    assert await PersonKeyStore(la_856.nc.jetstream()).lookup("856", PERSON) == key
    # while LA 855 creates and purges keys of its own
    own = PersonKeyStore(js_855)
    assert await own.key_for("855", PERSON) is not None
    await own.erase("855", PERSON)
    assert await own.erased("855", PERSON)
    assert la_855.violations()[3:] == []


async def test_the_dashboard_cannot_read_anyones_key(connect_as: Connect) -> None:  # noqa: F811
    la, dashboard = await connect_as("856"), await connect_as("dashboard")
    await PersonKeyStore(la.nc.jetstream()).key_for("856", PERSON)
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
        await PersonKeyStore(dashboard.nc.jetstream()).lookup("856", PERSON)
