"""How many alerts each organisation has been sent: counted from SEND_ALERTS itself.

The stream's per-subject counts (`send.alert.<owner>.<kind>.<person_key>`) summed by owner, so
the API and the alert process's announcements tell the same numbers, from the same place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.alerts import ALL_ALERTS
from runtime.bus.outbound import ALERTS_STREAM


def counts_by_owner(subjects: Mapping[str, int]) -> dict[str, int]:
    """Pure: {subject: messages} -> {owner org: messages}, sorted by owner."""
    owners: Counter[str] = Counter()
    for subject, count in subjects.items():
        parts = subject.split(".")
        if len(parts) == 5:
            owners[parts[2]] += count
    return dict(sorted(owners.items()))


async def alert_counts(js: JetStreamContext) -> tuple[int, dict[str, int]]:
    """(SEND_ALERTS' last sequence, alerts per owner); (0, {}) before any alert stream."""
    try:
        info = await js.stream_info(ALERTS_STREAM, subjects_filter=ALL_ALERTS)
    except NotFoundError:
        return 0, {}
    return int(info.state.last_seq), counts_by_owner(info.state.subjects or {})
