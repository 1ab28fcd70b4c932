"""The JetStream streams, declared once and created idempotently from code.

SEND_EVENTS is the shared history: file storage, every message kept for ever (no age, count
or per-subject limit), and `discard=new` so that if the explicit byte ceiling is ever reached
the server refuses new writes loudly instead of silently dropping old history. Deletes and
purges are denied: auditors rely on the history being complete. The duplicate window makes
`Nats-Msg-Id` (= event id) deduplicate relays that republish after a crash.
"""

from __future__ import annotations

import os

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts.subjects import ALL_DEADLETTERS, ALL_EVENTS

EVENTS_STREAM = "SEND_EVENTS"
DEADLETTER_STREAM = "SEND_DEADLETTER"
DUPLICATE_WINDOW_SECONDS = 24 * 3600
GIB = 1024**3
# Explicit ceilings (the server refuses writes past them: discard=new). Size them from bench/.
EVENTS_MAX_BYTES = int(os.environ.get("SENDX_EVENTS_MAX_BYTES", 16 * GIB))
DEADLETTER_MAX_BYTES = int(os.environ.get("SENDX_DEADLETTER_MAX_BYTES", 2 * GIB))


def events_stream(replicas: int = 1, max_bytes: int = EVENTS_MAX_BYTES) -> StreamConfig:
    return StreamConfig(
        name=EVENTS_STREAM,
        description="Every event published by every partner organisation (the shared history).",
        subjects=[ALL_EVENTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=max_bytes,
        max_age=0,
        max_msgs_per_subject=-1,
        max_msg_size=1024 * 1024,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
    )


def deadletter_stream(replicas: int = 1, max_bytes: int = DEADLETTER_MAX_BYTES) -> StreamConfig:
    return StreamConfig(
        name=DEADLETTER_STREAM,
        description="Messages that failed decoding or validation, with the reason and original bytes.",
        subjects=[ALL_DEADLETTERS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=max_bytes,
        max_age=0,
        max_msg_size=2 * 1024 * 1024,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        allow_direct=True,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one's settings up to `config`."""
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    for config in (events_stream(replicas), deadletter_stream(replicas)):
        await ensure_stream(js, config)
