"""The feed keys, kept in the JetStream key-value bucket SEND_FEED_KEYS: one per recipient,
source and person, under `<recipient>.<source>.<person>` (`contracts.sealing.feed_key_name`).

Why a key of the recipient's own: a partner may not read a source's person key (it opens every
field the source ever sealed about the person, for anyone), so the feed process opens the
fields a clause covers and seals them again under this key, which only the feed process and the
recipient can read (`runtime.bus.permissions.read_feed_keys`). Why per source and person:
either side's erasure purges exactly the keys it concerns, and every opened copy of those
fields on SEND_FEEDS becomes unreadable, as the original did with the source's key.

- `key_for(recipient, source, person)` (the feed publisher): get or create, create-only
  (expected last subject sequence 0), so a republish after a crash finds the same key; None
  once purged: the purge marker stays, so nothing is opened for that person again under a fresh
  key.
- `erase(names)` (the feed process, on `person.erased` by the source or the recipient): purge
  each, leaving its purge marker.
- `read_feed_key(js, recipient, source, person)` (a recipient's client, the webhook deliverer):
  one direct get of the last message on the key's subject, the only read of the bucket a
  recipient's login is allowed, and only under its own `<recipient>.>`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

from cachetools import LRUCache
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from contracts.feeds import FEED_KEYS_BUCKET, FEED_KEYS_STREAM, feed_key_subject
from contracts.sealing import KEY_BYTES, feed_key_name
from contracts.topology import Organisation

CACHE_SIZE = 100_000


class FeedKeyStore:
    def __init__(self, js: JetStreamContext, *, cache_size: int = CACHE_SIZE) -> None:
        self._js = js
        self._kv: KeyValue | None = None
        self._cache: LRUCache[str, bytes] = LRUCache(maxsize=cache_size)

    async def _bucket(self) -> KeyValue:
        """The bucket (created with the streams, or by the feed process: `ensure_feed_keys`)."""
        if self._kv is None:
            self._kv = await self._js.key_value(FEED_KEYS_BUCKET)
        return self._kv

    async def _stored(self, kv: KeyValue, name: str) -> bytes | None:
        try:
            entry = await kv.get(name)
        except KeyNotFoundError:
            return None
        return entry.value if entry.value and len(entry.value) == KEY_BYTES else None

    async def key_for(self, recipient: str, source: str, person: str) -> bytes | None:
        """The recipient's key for what `source` shares about `person`, created if it has none
        yet; None once it was purged (either side erased the person)."""
        name = feed_key_name(recipient, source, person)
        if (known := self._cache.get(name)) is not None:
            return known
        kv = await self._bucket()
        fresh = os.urandom(KEY_BYTES)
        try:
            await kv.update(name, fresh, last=0)
        except KeyWrongLastSequenceError:  # created before (by us, before a crash) or purged
            stored = await self._stored(kv, name)
            if stored is not None:
                self._cache[name] = stored
            return stored
        self._cache[name] = fresh
        return fresh

    async def erase(self, names: Iterable[str]) -> None:
        """Purge each named key: every revision goes, the purge marker stays."""
        kv = await self._bucket()
        names = list(dict.fromkeys(names))
        for name in names:
            self._cache.pop(name, None)
        await asyncio.gather(*(kv.purge(name) for name in names))


async def read_feed_key(
    js: JetStreamContext, recipient: str, source: str, person: str
) -> bytes | None:
    """The recipient's feed key for `source`'s fields about `person`; None if there is none
    (never created, or purged: erased). A bus error or a refusal raises."""
    try:
        msg = await js.get_msg(
            FEED_KEYS_STREAM, subject=feed_key_subject(recipient, source, person), direct=True)
    except NotFoundError:
        return None
    return msg.data if msg.data and len(msg.data) == KEY_BYTES else None


def erased_feed_keys(
    erasing_org: str, person: str, partnership: Iterable[Organisation]
) -> list[str]:
    """The feed keys a `person.erased` by `erasing_org` shreds: what it shared about the person
    with anyone (`<other>.<erasing_org>.<person>`) and what anyone shared with it
    (`<erasing_org>.<other>.<person>`). Pure."""
    others = [org.code for org in partnership if org.code != erasing_org]
    return [
        *(feed_key_name(other, erasing_org, person) for other in others),
        *(feed_key_name(erasing_org, other, person) for other in others),
    ]
