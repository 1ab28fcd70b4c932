"""The streams partners receive from, as the delivery side sees them: SEND_ALERTS (derived
alerts, declared here) and SEND_FEEDS (per-partner feeds, declared in `runtime.bus.streams` by
the feed process's side; names in `contracts.feeds`).

SEND_ALERTS is derived and could be derived again, so it keeps a bounded time
(`OUTBOUND_MAX_AGE_DAYS`: the furthest back a partner can replay) with `discard=old`; its
duplicate window makes each alert id (`Nats-Msg-Id`) deduplicate an alert process that publishes
again after a crash.
"""

from __future__ import annotations

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from contracts.feeds import ALERTS_STREAM, ALL_ALERTS, FEEDS_STREAM, org_feed
from runtime.bus.streams import DUPLICATE_WINDOW_SECONDS, feeds_stream
from runtime.settings import settings

__all__ = ["ALERTS_STREAM", "FEEDS_STREAM", "alerts_stream", "feeds_stream", "org_feed"]

OUTBOUND_MAX_AGE_DAYS = 400
"""The furthest back a partner can replay its alerts."""


def _outbound(name: str, subjects: str, description: str, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=name, description=description, subjects=[subjects],
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
        max_msgs=-1, max_bytes=settings().alerts_max_bytes,
        max_age=OUTBOUND_MAX_AGE_DAYS * 86_400.0,
        max_msg_size=1024 * 1024, duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas, allow_direct=True,
    )


def alerts_stream(replicas: int = 1) -> StreamConfig:
    return _outbound(ALERTS_STREAM, ALL_ALERTS,
                     "Alerts to whoever owns the next step (derived, projections.alerts).",
                     replicas)
