"""The NATS subject scheme: who published what, about whom, readable from the subject alone.

    send.evt.v1.<source_org>.<family>.<name>.<person_key>    events (stream SEND_EVENTS)
    send.dlq.<stage>.<source_org|unknown>                    dead letters (stream SEND_DEADLETTER)
    send.cmd.<org>.<command>                                  commands to one organisation's service
    projections.<read_model>.changed                          live projection changes
    send.part.<n>.<i>.<source_org>.<family>.<name>.<person_key>
                                     the events split by person into n parts (SEND_EVENTS_P<n>)

The source organisation is the fourth token, so a NATS permission `send.evt.v1.856.>` lets
LA 856 publish its own events and nobody else's; the person key is the last token, so the
server can partition by person (`partition(n, 7)`) while keeping each person's events in order.
"""

from __future__ import annotations

from typing import NamedTuple

EVENT_ROOT = "send.evt"
EVENT_PREFIX = "send.evt.v1"
ALL_EVENTS = "send.evt.>"
DEADLETTER_ROOT = "send.dlq"
ALL_DEADLETTERS = "send.dlq.>"
COMMAND_ROOT = "send.cmd"
PROJECTION_ROOT = "projections"
PARTITION_ROOT = "send.part"
_EVENT_PATTERN = f"{EVENT_PREFIX}.*.*.*.*"


class EventSubject(NamedTuple):
    source_org: str
    event_type: str
    person_key: str


def event_subject(source_org: str, event_type: str, person_key: str) -> str:
    return f"{EVENT_PREFIX}.{source_org}.{event_type}.{person_key}"


def org_events(source_org: str) -> str:
    """Wildcard covering every event one organisation may publish."""
    return f"{EVENT_PREFIX}.{source_org}.>"


def parse_event_subject(subject: str) -> EventSubject:
    parts = subject.split(".")
    if len(parts) != 7 or ".".join(parts[:3]) != EVENT_PREFIX:
        raise ValueError(
            f"subject {subject!r} is not '{EVENT_PREFIX}.<org>.<family>.<name>.<person_key>'"
        )
    return EventSubject(parts[3], f"{parts[4]}.{parts[5]}", parts[6])


def deadletter_subject(stage: str, source_org: str | None) -> str:
    return f"{DEADLETTER_ROOT}.{stage}.{source_org or 'unknown'}"


def command_subject(org: str, command: str) -> str:
    return f"{COMMAND_ROOT}.{org}.{command}"


def org_commands(org: str) -> str:
    return f"{COMMAND_ROOT}.{org}.>"


def projection_changes(read_model: str) -> str:
    return f"{PROJECTION_ROOT}.{read_model}.changed"


def partition_transform(count: int) -> tuple[str, str]:
    """(source, destination) of the server-side transform splitting events into `count` parts.

    `partition(count, 4)` hashes the fourth wildcard, the person key, so all of one person's
    events land in one partition, in stream order; the other tokens are kept as they were."""
    kept = ".".join(f"{{{{wildcard({i})}}}}" for i in range(1, 5))
    return _EVENT_PATTERN, f"{PARTITION_ROOT}.{count}.{{{{partition({count},4)}}}}.{kept}"


def partition_events(count: int, index: int) -> str:
    """Wildcard covering the events of partition `index` of `count`."""
    return f"{PARTITION_ROOT}.{count}.{index}.>"


def event_subject_of(partitioned_subject: str) -> str:
    """The original event subject of a partitioned one (what `contracts.decode` checks)."""
    parts = partitioned_subject.split(".")
    if len(parts) != 8 or ".".join(parts[:2]) != PARTITION_ROOT:
        raise ValueError(
            f"subject {partitioned_subject!r} is not '{PARTITION_ROOT}.<n>.<i>.<org>.<family>"
            ".<name>.<person_key>'"
        )
    return ".".join((EVENT_PREFIX, *parts[4:]))
