"""A stream message as a CloudEvents 1.0 structured JSON event (the `cloudevents` SDK). Pure.

    id       the message's Nats-Msg-Id (an alert id; `<recipient>.<event id>` in a feed):
             the same message delivered twice has the same id, the receiver's dedup key
    source   urn:send-exchange:<stream>          type   uk.send-exchange.<event type>.v<n>
    subject  the NATS subject                    time   the event's recorded_at
    data     the event itself (the contract JSON, exactly as on the stream), except that
             a feed delivery's opened fields (`opened`: the values the webhook deliverer read
             from its `Sendx-Opened` header with the partner's feed key) are in the payload in
             clear and no longer in `sealed`: the contract event as `contracts.decode` opens it
    extensions sendxstream, sendxsequence (the replay cursor), sendxagreement and sendxclause
             where the feed names them, sendxopened (the opened fields' names, comma-separated)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

TYPE_PREFIX = "uk.send-exchange"
_FORMAT = JSONFormat()
_EXTENSIONS = {"Sendx-Agreement": "sendxagreement", "Sendx-Clause": "sendxclause"}


def _time(body: Mapping[str, Any]) -> datetime:
    for name in ("recorded_at", "occurred_at"):
        if isinstance(body.get(name), str):
            try:
                return datetime.fromisoformat(body[name])
            except ValueError:
                pass
    return datetime.now(UTC)


def with_opened(body: dict[str, Any], opened: Mapping[str, Any]) -> dict[str, Any]:
    """The event with each opened field in its payload and out of `sealed`."""
    sealed = {k: v for k, v in (body.get("sealed") or {}).items() if k not in opened}
    payload = {**(body.get("payload") or {}), **opened}
    return {**body, "payload": payload, "sealed": sealed or None}


def cloud_event(stream: str, sequence: int, subject: str, data: bytes,
                headers: Mapping[str, str] | None,
                opened: Mapping[str, Any] | None = None) -> CloudEvent:
    """Raises ValueError when `data` is not a JSON object (not an event to deliver)."""
    headers = headers or {}
    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError(f"the message is JSON but not an object ({type(body).__name__})")
    if opened:
        body = with_opened(body, opened)
    attributes: dict[str, Any] = {
        "id": headers.get("Nats-Msg-Id") or f"{stream}:{sequence}",
        "source": f"urn:send-exchange:{stream.lower()}",
        "type": f"{TYPE_PREFIX}.{body.get('type', 'unknown')}.v{body.get('schema_version', 1)}",
        "subject": subject, "time": _time(body), "datacontenttype": "application/json",
        "sendxstream": stream, "sendxsequence": sequence,
    }
    for header, extension in _EXTENSIONS.items():
        if headers.get(header):
            attributes[extension] = headers[header]
    if opened:
        attributes["sendxopened"] = ",".join(opened)
    return CloudEvent(attributes, body)


def structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the structured-mode HTTP message."""
    message = to_structured(event, _FORMAT)
    return dict(message.headers), message.body


def as_json(event: CloudEvent) -> dict[str, Any]:
    """The event as the JSON object its structured body holds (the replay API lists these)."""
    return orjson.loads(structured(event)[1])
