"""The JetStream streams, declared once and created idempotently from code.

SEND_EVENTS is the shared history: file storage, every message kept for ever (no age, count
or per-subject limit), and `discard=new` so that if the explicit byte ceiling is ever reached
the server refuses new writes loudly instead of silently dropping old history. Deletes and
purges are denied: auditors rely on the history being complete. The duplicate window makes
`Nats-Msg-Id` (= event id) deduplicate relays that republish after a crash.

SEND_PERSON_KEYS, beside them, is the key-value bucket of per-person sealing keys
(`runtime.keystore`): history 1, and no direct gets, so a read goes to the stream leader and
sees a key the moment its creation was acknowledged (the relay creates it before publishing).
Erasing a person purges their key; the purge marker stays as the record that they were erased.

SEND_FEED_KEYS (`runtime.feedkeys`) holds the keys the feed process re-seals opened fields
under, one per `<recipient>.<source>.<person>`: history 1 like the person keys, but with direct
gets, because a recipient's client reads its own keys by direct get of a subject, the one read
NATS can grant per subject (`runtime.bus.permissions.read_feed_keys`). Not protected: it is
derived (the feed process creates keys again for what it still delivers), and purging keys is
what shredding the opened copies on SEND_FEEDS means.

SEND_EVENTS_P<n> (created only where projectors are scaled out: `ensure_partitioned_stream`) is
a mirror of SEND_EVENTS whose subjects the server rewrites to `send.part.<n>.<i>.…`, `i` being
`partition(n)` of the person key. A mirror keeps every message's sequence number, so a
partition worker's position and dead letters speak SEND_EVENTS sequences; SEND_EVENTS itself,
which auditors and the hash chains rely on, is untouched. A message whose subject is not
`send.evt.v1.<org>.<family>.<name>.<person_key>` matches no partition and is not mirrored.

What the history is kept in cannot be shortened by any user `sendx` creates: the server denies
admin updating, deleting or purging SEND_EVENTS, SEND_DEADLETTER and the key bucket's stream
(`runtime.bus.permissions.protected_stream_subjects`), so `ensure_stream` changes nothing on
a stream whose retention already matches the declaration here, and refuses, naming the
difference and the break-glass credential, where it does not. The same declaration is what the
auditor checks the live configuration against (`retention_drift`, `sendx audit chain`).
"""

from __future__ import annotations

from dataclasses import replace

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from contracts.feeds import ALL_FEEDS, FEED_KEYS_BUCKET, FEEDS_STREAM
from contracts.subjects import ALL_DEADLETTERS, ALL_EVENTS, partition_transform
from runtime.settings import GIB, MIB, settings

EVENTS_STREAM = "SEND_EVENTS"
DEADLETTER_STREAM = "SEND_DEADLETTER"
PERSON_KEYS_BUCKET = "SEND_PERSON_KEYS"
PERSON_KEYS_STREAM = f"KV_{PERSON_KEYS_BUCKET}"
DUPLICATE_WINDOW_SECONDS = 24 * 3600
# Explicit ceilings (the server refuses writes past them: discard=new): SENDX_EVENTS_MAX_BYTES
# and SENDX_DEADLETTER_MAX_BYTES (runtime.settings), read when a stream is declared. Size them
# from bench/.
PERSON_KEYS_MAX_BYTES = 1 * GIB  # ~100 bytes a person: room for millions
FEED_KEYS_MAX_BYTES = 64 * MIB  # ~150 bytes a (recipient, source, person): ~400,000 keys
# SEND_FEEDS' and SEND_ALERTS' ceilings (SENDX_FEEDS_MAX_BYTES, SENDX_ALERTS_MAX_BYTES): every
# stream's is reserved out of the server's `max_file_store` (20 GiB in deploy/nats/): the history
# takes 16 GiB, the dead letters 2, the person keys 1, which leaves 1 GiB for the two together
# and the feed keys (448 + 512 + 64 MiB).


def events_stream(replicas: int = 1, max_bytes: int | None = None) -> StreamConfig:
    return StreamConfig(
        name=EVENTS_STREAM,
        description="Every event published by every partner organisation (the shared history).",
        subjects=[ALL_EVENTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=settings().events_max_bytes if max_bytes is None else max_bytes,
        max_age=0,
        max_msgs_per_subject=-1,
        max_msg_size=1024 * 1024,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
    )


def deadletter_stream(replicas: int = 1, max_bytes: int | None = None) -> StreamConfig:
    return StreamConfig(
        name=DEADLETTER_STREAM,
        description="Messages that failed decoding or validation: reason and original bytes.",
        subjects=[ALL_DEADLETTERS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=settings().deadletter_max_bytes if max_bytes is None else max_bytes,
        max_age=0,
        max_msg_size=2 * 1024 * 1024,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        allow_direct=True,
    )


def feeds_stream(replicas: int = 1, max_bytes: int | None = None) -> StreamConfig:
    """SEND_FEEDS: each recipient's deliveries (`contracts.feeds`), kept for replay.

    Kept like the history (file storage, no age limit, `discard=new`, the same duplicate
    window, which makes `Nats-Msg-Id` = `<recipient>.<event_id>` deliver each event to each
    recipient once across restarts) but not protected: it is derived, and the feed process's
    store can publish it again. A recipient replays from any sequence or time, and the auditor
    reads who was sent what from it."""
    return replace(
        events_stream(replicas, settings().feeds_max_bytes if max_bytes is None else max_bytes),
        name=FEEDS_STREAM,
        description="Per-recipient deliveries of shared events under the data-sharing agreement.",
        subjects=[ALL_FEEDS],
        deny_delete=False,
        deny_purge=False,
    )


def partitioned_stream_name(count: int) -> str:
    return f"{EVENTS_STREAM}_P{count}"


def partitioned_events_stream(count: int, replicas: int = 1, max_bytes: int = -1) -> StreamConfig:
    """SEND_EVENTS mirrored with each subject prefixed by its person's partition of `count`.

    No byte ceiling by default: the mirror holds SEND_EVENTS' messages and no more, and a
    reservation of its own would double what the server must set aside for the history."""
    if count < 1:
        raise ValueError(f"a partitioned stream needs at least 1 partition, not {count}")
    source, destination = partition_transform(count)
    return StreamConfig(
        name=partitioned_stream_name(count),
        description=f"SEND_EVENTS split by person into {count} partitions for projection workers.",
        mirror=StreamSource(
            name=EVENTS_STREAM,
            subject_transforms=[SubjectTransform(src=source, dest=destination)],
        ),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=max_bytes,
        max_age=0,
        max_msg_size=1024 * 1024,
        num_replicas=replicas,
        allow_direct=True,
    )


RETENTION_FIELDS = (
    "subjects", "retention", "storage", "discard", "max_msgs", "max_bytes", "max_age",
    "max_msgs_per_subject", "deny_delete", "deny_purge", "allow_rollup_hdrs", "allow_msg_ttl",
    "sealed", "mirror", "sources", "subject_transform", "first_seq",
)
"""What decides which messages a stream keeps and who may remove them: a change to any of
these can shorten or rewrite the history (a `max_age`, a per-subject limit, a rollup, a TTL)."""
_DEFAULTS: dict[str, object] = {
    "deny_delete": False, "deny_purge": False, "allow_rollup_hdrs": False,
    "allow_msg_ttl": False, "sealed": False, "first_seq": None,
}


def retention_of(config: StreamConfig) -> dict[str, object]:
    """Pure: the retention settings of `config`, as plain JSON values (nanoseconds for ages)."""
    given = config.as_dict()
    settings = {}
    for name in RETENTION_FIELDS:
        value = given.get(name, _DEFAULTS.get(name))
        settings[name] = getattr(value, "value", value)
    if settings["first_seq"] in (None, 0, 1):
        settings["first_seq"] = None
    return settings


def retention_drift(
    expected: dict[str, object], actual: dict[str, object], against: str
) -> list[str]:
    """Pure: one line per retention setting that is not what `against` says
    (`max_age is 2s, declared 0 (kept for ever)`)."""
    return [
        f"{name} is {_shown(name, actual.get(name))}, {against} "
        f"{_shown(name, expected.get(name))}"
        for name in RETENTION_FIELDS
        if actual.get(name) != expected.get(name)
    ]


def _shown(name: str, value: object) -> str:
    if name == "max_age" and isinstance(value, int):
        return "0 (kept for ever)" if value == 0 else f"{value / 1e9:g}s"
    return repr(value)


class StreamChangeRefused(RuntimeError):
    """A protected stream's retention differs from the declaration and this user may not
    change it: only the break-glass credential can (deploy/nats/README.md)."""


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one's settings up to `config`.

    An existing stream whose retention already is `config`'s is left as it is (`admin` may
    not update the protected streams at all); one that differs is updated, which the server
    refuses to anyone but the break-glass user on a protected stream: that is reported with
    the differences rather than as a bare timeout."""
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    drift = retention_drift(retention_of(config), retention_of(info.config), "declared")
    if not drift and _same_settings(config, info.config):
        return
    try:
        await js.update_stream(config)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        raise StreamChangeRefused(
            f"{config.name} differs from its declaration ({'; '.join(drift) or 'settings'}) "
            "and the server did not accept the update from this user: the history's "
            "retention changes only with the break-glass credential (deploy/nats/README.md, "
            "\"Break glass\")"
        ) from exc


def _same_settings(expected: StreamConfig, actual: StreamConfig) -> bool:
    """The settings beyond retention that `ensure_stream` keeps up to date."""
    return all(
        getattr(expected, name) == getattr(actual, name)
        for name in ("description", "max_msg_size", "duplicate_window", "num_replicas",
                     "allow_direct")
        if getattr(expected, name) is not None
    )


def person_keys_stream(replicas: int = 1) -> StreamConfig:
    """The stream nats-py makes of `person_keys_bucket` (as far as retention goes)."""
    return StreamConfig(
        name=PERSON_KEYS_STREAM,
        subjects=[f"$KV.{PERSON_KEYS_BUCKET}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=PERSON_KEYS_MAX_BYTES,
        max_age=0,
        max_msgs_per_subject=1,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=False,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
    )


def declared_streams(replicas: int = 1) -> tuple[StreamConfig, ...]:
    """Every protected stream as declared: what `sendx audit` compares the live ones with."""
    return (events_stream(replicas), deadletter_stream(replicas), person_keys_stream(replicas))


def _key_bucket(bucket: str, description: str, max_bytes: int, *, direct: bool,
                replicas: int) -> KeyValueConfig:
    """A bucket of 256-bit keys, one revision each (a purge leaves only its marker)."""
    return KeyValueConfig(
        bucket=bucket, description=description, history=1, storage=StorageType.FILE,
        replicas=replicas, max_bytes=max_bytes, max_value_size=1024, direct=direct,
    )


def person_keys_bucket(replicas: int = 1) -> KeyValueConfig:
    return _key_bucket(
        PERSON_KEYS_BUCKET,
        "Per-person sealing keys; erasing a person purges theirs (runtime.keystore).",
        PERSON_KEYS_MAX_BYTES, direct=False, replicas=replicas,
    )


def feed_keys_bucket(replicas: int = 1) -> KeyValueConfig:
    return _key_bucket(
        FEED_KEYS_BUCKET,
        "Per-recipient keys of the fields feeds open; erasing purges them (runtime.feedkeys).",
        FEED_KEYS_MAX_BYTES, direct=True, replicas=replicas,
    )


async def _ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> None:
    """Create the bucket if it is missing (an existing one, and its keys, is left alone)."""
    try:
        await js.key_value(config.bucket)
    except BucketNotFoundError:
        await js.create_key_value(config)


async def ensure_person_keys(js: JetStreamContext, replicas: int = 1) -> None:
    await _ensure_bucket(js, person_keys_bucket(replicas))


async def ensure_feed_keys(js: JetStreamContext, replicas: int = 1) -> None:
    await _ensure_bucket(js, feed_keys_bucket(replicas))


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    for config in (events_stream(replicas), deadletter_stream(replicas), feeds_stream(replicas)):
        await ensure_stream(js, config)
    await ensure_person_keys(js, replicas)
    await ensure_feed_keys(js, replicas)


async def ensure_partitioned_stream(js: JetStreamContext, count: int, replicas: int = 1) -> None:
    """Create SEND_EVENTS_P<count> if it is missing (idempotent: many workers call it)."""
    await ensure_stream(js, partitioned_events_stream(count, replicas))
