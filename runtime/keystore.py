"""The sealing keys, kept in the JetStream key-value bucket SEND_PERSON_KEYS: one per person
and organisation, under `<org>.<person>` (`contracts.sealing.key_name`).

Why a bucket on the bus: every relay that seals and every projector that opens must agree on
the key, and erasing must delete that key in one place. Why per organisation: each organisation
is controller of what it shares, so its erasure deletes its own key and nothing of another's,
and the NATS permissions let a service create and purge keys under its own prefix only
(`$KV.SEND_PERSON_KEYS.<org>.>`, `runtime.bus.permissions`). The bucket is created beside the
streams (`runtime.bus.streams.ensure_streams`).

- `key_for(org, person)` (relays): get or create. Creation is create-only (expected last subject
  sequence 0), so two relays racing agree on whichever key the server stored first. None once
  the organisation erased the person: its purge marker stays in the bucket, so an organisation
  that keeps publishing about them shares no personal field again (the relay withholds it)
  rather than minting a fresh key.
- `lookup(org, person)` (projectors, auditors): the key, or None when there is none (erased).
  A transient bus error raises, never reads as "erased": the caller retries.
- `erase(org, person)` (the relay of the organisation that publishes `person.erased`): purge,
  which removes every revision of the key and leaves only the purge marker.
- `load(names)` then `cached(name)`: decoding (`contracts.decode(keys=...)`) is synchronous, so a
  batch's keys are fetched first, concurrently, into a bounded cache.

Keys sealed before they were per organisation (one key per person, named by the person key
alone) keep working: a reader that finds no `<org>.<person>` entry at all (never created, never
purged) uses the person's old key, and a relay creating `<org>.<person>` adopts the old key when
there is one, so everything that organisation sealed before decodes with its own key and goes
with its own erasure. The old entry itself can no longer be purged by any service (no permission
on it): an operator removes it once every organisation holding the person has erased them.

Keys are 256-bit random (`os.urandom`), used for AES-256-GCM (`contracts.sealing`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

from cachetools import LRUCache
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_PURGE, KeyValue

from contracts.sealing import KEY_BYTES, key_name
from runtime.bus.streams import PERSON_KEYS_BUCKET

CACHE_SIZE = 100_000


class KeyStoreUnavailable(RuntimeError):
    """The key bucket does not exist: sealing cannot go on (it is created with the streams)."""


_NEVER = object()
"""What `_entry` answers for a key that was never created (no entry, no purge marker)."""


class PersonKeyStore:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        bucket: str = PERSON_KEYS_BUCKET,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._js, self._bucket = js, bucket
        self._kv: KeyValue | None = None
        self._cache: LRUCache[str, bytes] = LRUCache(maxsize=cache_size)

    async def _bind(self) -> KeyValue | None:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(self._bucket)
            except BucketNotFoundError:
                return None
        return self._kv

    async def _required(self) -> KeyValue:
        kv = await self._bind()
        if kv is None:
            raise KeyStoreUnavailable(
                f"the key store {self._bucket} does not exist: run `sendx nats` (or "
                "runtime.bus.streams.ensure_streams) before starting services"
            )
        return kv

    def _remember(self, name: str, key: bytes) -> bytes:
        self._cache[name] = key
        return key

    def cached(self, name: str) -> bytes | None:
        """The key named `key_name(org, person)` if `load`/`key_for` fetched it (a
        `contracts.codec.KeyLookup`)."""
        return self._cache.get(name)

    def forget(self, name: str) -> None:
        self._cache.pop(name, None)

    async def _entry(self, kv: KeyValue, name: str) -> bytes | None | object:
        """The stored key; None if deleted or purged (erased); `_NEVER` if never created."""
        try:
            entry = await kv.get(name)
        except KeyNotFoundError as exc:
            return None if exc.op is not None else _NEVER
        return entry.value if entry.value and len(entry.value) == KEY_BYTES else None

    async def _read(self, kv: KeyValue, org: str, person_key: str) -> bytes | None:
        """The organisation's key for the person, or the person's pre-namespace key when the
        organisation never had one of its own."""
        found = await self._entry(kv, key_name(org, person_key))
        if found is _NEVER:
            found = await self._entry(kv, person_key)
        return found if isinstance(found, bytes) else None

    async def key_for(self, org: str, person_key: str) -> bytes | None:
        """The organisation's key for the person, created if it has none yet (adopting the
        person's pre-namespace key if there is one); None once it erased them."""
        name = key_name(org, person_key)
        if (known := self.cached(name)) is not None:
            return known
        kv = await self._required()
        legacy = await self._entry(kv, person_key)
        fresh = legacy if isinstance(legacy, bytes) else os.urandom(KEY_BYTES)
        try:
            await kv.update(name, fresh, last=0)
        except KeyWrongLastSequenceError:  # someone created it first, or it was erased
            stored = await self._entry(kv, name)
            return self._remember(name, stored) if isinstance(stored, bytes) else None
        return self._remember(name, fresh)

    async def lookup(self, org: str, person_key: str) -> bytes | None:
        name = key_name(org, person_key)
        if (known := self.cached(name)) is not None:
            return known
        kv = await self._bind()
        if kv is None:  # no bucket: nobody can have sealed anything with a key from it
            return None
        stored = await self._read(kv, org, person_key)
        return None if stored is None else self._remember(name, stored)

    async def load(self, keys: Iterable[tuple[str, str]]) -> None:
        """Fetch the (organisation, person) keys not cached yet, concurrently."""
        missing = {k for k in keys if key_name(*k) not in self._cache}
        await asyncio.gather(*(self.lookup(org, person) for org, person in missing))

    async def erase(self, org: str, person_key: str) -> None:
        """Delete the organisation's key for the person: every revision goes, the purge marker
        records the erasure."""
        kv = await self._required()
        name = key_name(org, person_key)
        await kv.purge(name)
        self.forget(name)

    async def erased(self, org: str, person_key: str) -> bool:
        """Did this organisation erase the person (a purge marker and no key)?"""
        kv = await self._required()
        try:
            await kv.get(key_name(org, person_key))
        except KeyNotFoundError as exc:
            return exc.op == KV_PURGE
        return False
