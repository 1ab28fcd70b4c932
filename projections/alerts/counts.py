"""How many alerts each organisation holds open, and how many were withdrawn: counted from
SEND_ALERTS itself.

The stream's per-subject counts summed by owner: `send.alert.<owner>.<kind>.<person_key>` are
alerts raised, `send.alert.<owner>.withdrawn.<person_key>` withdrawals (one per alert at most),
and open = raised - withdrawn. So the API and the alert process's announcements tell the same
numbers, from the same place. Once SEND_ALERTS has discarded its oldest messages (past
`SENDX_ALERTS_MAX_BYTES`) an owner's open count can only be too low, never below 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts.alerts import WITHDRAWN_TOKEN
from contracts.feeds import ALL_ALERTS
from runtime.bus.outbound import ALERTS_STREAM


@dataclass(frozen=True)
class Counted:
    """SEND_ALERTS' last sequence when counted, and per owner (sorted) open and withdrawn."""

    position: int = 0
    open: dict[str, int] = field(default_factory=dict)
    withdrawn: dict[str, int] = field(default_factory=dict)


def counts_by_owner(subjects: Mapping[str, int], position: int = 0) -> Counted:
    """Pure: {subject: messages} -> open and withdrawn alerts per owner."""
    raised: Counter[str] = Counter()
    withdrawn: Counter[str] = Counter()
    for subject, count in subjects.items():
        parts = subject.split(".")
        if len(parts) == 5:
            (withdrawn if parts[3] == WITHDRAWN_TOKEN else raised)[parts[2]] += count
    owners = sorted(raised.keys() | withdrawn.keys())
    return Counted(position, {o: max(raised[o] - withdrawn[o], 0) for o in owners},
                   {o: withdrawn[o] for o in owners})


async def alert_counts(js: JetStreamContext) -> Counted:
    """The counts now; nothing (position 0) before any alert stream."""
    try:
        info = await js.stream_info(ALERTS_STREAM, subjects_filter=ALL_ALERTS)
    except NotFoundError:
        return Counted()
    return counts_by_owner(info.state.subjects or {}, int(info.state.last_seq))
