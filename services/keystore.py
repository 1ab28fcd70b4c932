"""The per-person sealing keys, kept in the JetStream key-value bucket SEND_PERSON_KEYS.

Why a bucket on the bus: every relay that seals a person's fields and every projector that opens
them must agree on one key per person, and erasing the person must delete that key in one place.
The bucket is created beside the streams (`services.bus.streams.ensure_streams`).

- `key_for(person_key)` (relays): get or create. Creation is create-only (expected last subject
  sequence 0), so two relays racing for a new person agree on whichever key the server stored
  first. It returns None for an erased person, whose purge marker stays in the bucket: a
  partner that still holds records and keeps publishing about them shares no personal field
  again (the relay withholds it) rather than minting a fresh key.
- `lookup(person_key)` (projectors, auditors): the key, or None when there is none (erased).
  A transient bus error raises, never reads as "erased": the caller retries.
- `erase(person_key)` (the relay of the LA that publishes `person.erased`): purge, which
  removes every revision of the key and leaves only the purge marker.
- `load(person_keys)` then `cached(person_key)`: decoding (`contracts.decode(keys=...)`) is
  synchronous, so a batch's keys are fetched first, concurrently, into a bounded cache.

Keys are 256-bit random (`os.urandom`), used for AES-256-GCM (`contracts.sealing`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_PURGE, KeyValue

from contracts.sealing import KEY_BYTES
from services.bus.streams import PERSON_KEYS_BUCKET
from services.remembered import Remembered

CACHE_SIZE = 100_000


class KeyStoreUnavailable(RuntimeError):
    """The key bucket does not exist: sealing cannot go on (it is created with the streams)."""


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
        self._cache: Remembered[str, bytes] = Remembered(cache_size)

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
                "services.bus.streams.ensure_streams) before starting services"
            )
        return kv

    def _remember(self, person_key: str, key: bytes) -> bytes:
        return self._cache.put(person_key, key)

    def cached(self, person_key: str) -> bytes | None:
        """The key if `load`/`key_for` fetched it (a `contracts.codec.KeyLookup`)."""
        return self._cache.get(person_key)

    def forget(self, person_key: str) -> None:
        self._cache.forget(person_key)

    async def _read(self, kv: KeyValue, person_key: str) -> bytes | None:
        try:
            entry = await kv.get(person_key)
        except KeyNotFoundError:
            return None
        return entry.value if entry.value and len(entry.value) == KEY_BYTES else None

    async def key_for(self, person_key: str) -> bytes | None:
        """The person's key, created if they have none yet; None if they were erased."""
        if (known := self.cached(person_key)) is not None:
            return known
        kv = await self._required()
        fresh = os.urandom(KEY_BYTES)
        try:
            await kv.update(person_key, fresh, last=0)
        except KeyWrongLastSequenceError:  # someone created it first, or it was erased
            stored = await self._read(kv, person_key)
            return None if stored is None else self._remember(person_key, stored)
        return self._remember(person_key, fresh)

    async def lookup(self, person_key: str) -> bytes | None:
        if (known := self.cached(person_key)) is not None:
            return known
        kv = await self._bind()
        if kv is None:  # no bucket: nobody can have sealed anything with a key from it
            return None
        stored = await self._read(kv, person_key)
        return None if stored is None else self._remember(person_key, stored)

    async def load(self, person_keys: Iterable[str]) -> None:
        """Fetch the keys of these people that are not cached yet, concurrently."""
        missing = {p for p in person_keys if p not in self._cache}
        await asyncio.gather(*(self.lookup(p) for p in missing))

    async def erase(self, person_key: str) -> None:
        """Delete the person's key: every revision goes, the purge marker records the erasure."""
        kv = await self._required()
        await kv.purge(person_key)
        self.forget(person_key)

    async def erased(self, person_key: str) -> bool:
        """Was this person erased (a purge marker and no key)?"""
        kv = await self._required()
        try:
            await kv.get(person_key)
        except KeyNotFoundError as exc:
            return exc.op == KV_PURGE
        return False
