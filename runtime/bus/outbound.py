"""The streams partners receive from: SEND_ALERTS (derived alerts) and SEND_FEEDS (per-partner
feeds of contract events), declared once.

Neither is the history (SEND_EVENTS is): both are derived and could be derived again, so they
keep a bounded time rather than for ever (`OUTBOUND_MAX_AGE_DAYS`: the furthest back a partner
can replay), with `discard=old`. The duplicate window makes each message's `Nats-Msg-Id` (the
alert id; `<recipient>.<event id>` in a feed) deduplicate a producer that publishes again
after a crash.

SEND_FEEDS' shape is the interface agreed with the feed process (issue 18 items 1, 2, 5):
subjects `send.feed.<recipient_org>.<source_org>.<family>.<name>.<person_key>`, body the
contract event's bytes as on SEND_EVENTS, headers `Nats-Msg-Id`, `Sendx-Agreement`,
`Sendx-Clause`, `Sendx-Source-Seq`. The feed process owns creating it; it is declared here
so the webhook delivery can read it and tests can stand in for the feed process.
"""

from __future__ import annotations

import os

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from contracts.alerts import ALL_ALERTS
from runtime.bus.streams import DUPLICATE_WINDOW_SECONDS

ALERTS_STREAM = "SEND_ALERTS"
FEEDS_STREAM = "SEND_FEEDS"
FEED_ROOT = "send.feed"
ALL_FEEDS = f"{FEED_ROOT}.>"
OUTBOUND_MAX_AGE_DAYS = 400
OUTBOUND_MAX_BYTES = int(os.environ.get("SENDX_OUTBOUND_MAX_BYTES", 512 * 1024**2))
"""Each stream's ceiling (oldest discarded past it): ~500,000 alerts of ~1 KiB. The server
reserves it up front beside SEND_EVENTS' 16 GiB, so it is kept modest; raise it with the
server's storage."""


def org_feed(recipient_org: str) -> str:
    """Wildcard covering one recipient's feed."""
    return f"{FEED_ROOT}.{recipient_org}.>"


def _outbound(name: str, subjects: str, description: str, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=name, description=description, subjects=[subjects],
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
        max_msgs=-1, max_bytes=OUTBOUND_MAX_BYTES, max_age=OUTBOUND_MAX_AGE_DAYS * 86_400.0,
        max_msg_size=1024 * 1024, duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas, allow_direct=True,
    )


def alerts_stream(replicas: int = 1) -> StreamConfig:
    return _outbound(ALERTS_STREAM, ALL_ALERTS,
                     "Alerts to whoever owns the next step (derived, projections.alerts).",
                     replicas)


def feeds_stream(replicas: int = 1) -> StreamConfig:
    return _outbound(FEEDS_STREAM, ALL_FEEDS,
                     "Each partner's feed of the events its agreement entitles it to.", replicas)
