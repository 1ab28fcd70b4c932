"""One person's history across every organisation: for subject access requests and case reviews.

The person key is the subject's last token, so a consumer filtered on
`send.evt.v1.*.*.*.<person_key>` makes the server hand over just that person's events, without
the auditor reading the rest of the stream. Events are listed in the order they happened
(`occurred_at`, then stream sequence), with when each was recorded and stored, so a reviewer
sees both what happened and when each organisation told the others.

A message about the person that cannot be decoded is still listed, with the reason, because a
subject access response must not silently leave anything out. Sealed person-level fields are
opened with the key of the organisation that published them; once that organisation erased the
person they are listed as erased. The export says which organisations registered the person
and which of them have erased what they shared (`erasure`): a partnership-wide erasure is done
when every one has; and what was shared about the person, with whom, by which clause of the
data-sharing agreement, when (`shared`, from SEND_FEEDS).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from nats.aio.client import Client

from contracts import DecodeError, Envelope, decode
from contracts.envelope import PERSON_KEY_PATTERN
from contracts.sealing import ERASURE_TYPE
from projections.audit.deliveries import Shared
from projections.audit.stream import person_subject, read_stream
from runtime.keystore import PersonKeyStore

_PERSON_KEY = re.compile(PERSON_KEY_PATTERN)
FIXED_COLUMNS = (
    "occurred_at", "type", "schema_version", "source_org", "recorded_at", "stored_at",
    "stream_seq", "source_position", "event_id", "correlation_id", "causation_id", "invalid",
)


@dataclass(frozen=True)
class PersonEvent:
    stream_seq: int
    stored_at: datetime
    subject: str
    envelope: Envelope | None
    invalid: str | None = None
    """Why the stored message could not be decoded (it was dead-lettered by the projections)."""

    def as_record(self) -> dict[str, Any]:
        """The JSON shape: the envelope's fields, the payload as a nested object."""
        record: dict[str, Any] = {"stream_seq": self.stream_seq, "stored_at": self.stored_at}
        if self.envelope is None:
            return {**record, "subject": self.subject, "invalid": self.invalid}
        return {**record, **self.envelope.to_wire()}


def check_person_key(person_key: str) -> str:
    if not _PERSON_KEY.match(person_key):
        raise ValueError(
            f"person key {person_key!r} is not a pseudonymous key (p_ and 32 hex digits); "
            "derive it from the NHS number with the partnership key"
        )
    return person_key


def _history_order(event: PersonEvent) -> tuple[datetime, int]:
    """When it happened; an undecodable message (no trustworthy time) sorts by when it arrived."""
    occurred = event.envelope.occurred_at if event.envelope else event.stored_at
    return occurred, event.stream_seq


async def person_history(nc: Client, person_key: str) -> list[PersonEvent]:
    """Every event about `person_key` on the stream now, from every organisation, in time order."""
    check_person_key(person_key)
    keys = PersonKeyStore(nc.jetstream())
    stored = [m async for m in read_stream(nc, subject=person_subject(person_key))]
    await keys.load({(m.subject.split(".")[3], person_key) for m in stored})
    events: list[PersonEvent] = []
    for message in stored:
        try:
            envelope = decode(message.data, subject=message.subject, keys=keys.cached)
        except DecodeError as error:
            events.append(PersonEvent(message.seq, message.stored_at, message.subject, None,
                                      f"{error.reason}: {error}"))
            continue
        events.append(PersonEvent(message.seq, message.stored_at, message.subject, envelope))
    return sorted(events, key=_history_order)


@dataclass(frozen=True)
class Erasure:
    """Who shared personal fields about the person, and which of them erased what they shared:
    a partnership-wide erasure is done once every organisation holding the person has."""

    registered_by: tuple[str, ...]
    erased_by: tuple[str, ...]

    @property
    def not_erased_by(self) -> tuple[str, ...]:
        return tuple(org for org in self.registered_by if org not in self.erased_by)

    def as_record(self) -> dict[str, Any]:
        return {"registered_by": list(self.registered_by), "erased_by": list(self.erased_by),
                "not_erased_by": list(self.not_erased_by)}


def erasure_of(events: Iterable[PersonEvent]) -> Erasure:
    """Which organisations registered the person and which erased them, in history order."""
    decoded = [e.envelope for e in events if e.envelope is not None]
    registered = dict.fromkeys(e.source_org for e in decoded if e.type == "person.registered")
    erased = dict.fromkeys(e.source_org for e in decoded if e.type == ERASURE_TYPE)
    return Erasure(tuple(registered), tuple(erased))


def history_json(
    person_key: str, events: Sequence[PersonEvent], shared: Sequence[Shared] = ()
) -> bytes:
    """The person's history and (`shared`) every delivery of it: with whom, by which clause,
    when (`projections.audit.deliveries`)."""
    document = {
        "person_key": person_key,
        "erasure": erasure_of(events).as_record(),
        "events": [event.as_record() for event in events],
        "count": len(events),
        "shared": [s.as_record() for s in shared],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def flatten(value: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Nested payload fields as dotted columns (`payload.placement`); lists as JSON text."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, name))
        elif isinstance(item, list):
            flat[name] = orjson.dumps(item).decode()
        else:
            flat[name] = item
    return flat


def _csv_row(event: PersonEvent) -> dict[str, Any]:
    record = event.as_record()
    payload = record.pop("payload", None) or {}
    row = {column: record.get(column) for column in FIXED_COLUMNS}
    row["stored_at"] = event.stored_at.isoformat()
    return {**row, **flatten(payload, "payload")}


def history_csv(events: Iterable[PersonEvent]) -> str:
    """One row per event: the envelope's columns, then one column per payload field seen."""
    rows = [_csv_row(event) for event in events]
    payload_columns = sorted({c for row in rows for c in row if c not in FIXED_COLUMNS})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*FIXED_COLUMNS, *payload_columns],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
