"""The one serialisation path on the wire: orjson bytes <-> validated, upcast Envelope.

`decode` raises `DecodeError` with a machine-readable `reason` (used to route dead letters)
and a message naming exactly what was wrong.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import ValidationError

from contracts.envelope import Envelope, EnvelopeHeader
from contracts.registry import UnknownEventType, model_for, upcast
from contracts.subjects import parse_event_subject

DecodeReason = Literal[
    "bad_json", "not_an_object", "bad_envelope", "unknown_type", "bad_payload", "subject_mismatch"
]


class DecodeError(ValueError):
    def __init__(self, reason: DecodeReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def encode(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.to_wire())


def _describe(error: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in error.errors()
    )


def decode(data: bytes | str, *, subject: str | None = None) -> Envelope:
    """Parse, validate and upcast one event; if `subject` is given it must agree with the body."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("bad_json", f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DecodeError("not_an_object", f"event must be a JSON object, got {type(raw).__name__}")
    payload = raw.pop("payload", None)
    try:
        header = EnvelopeHeader.model_validate(raw)
    except ValidationError as exc:
        raise DecodeError("bad_envelope", f"envelope invalid: {_describe(exc)}") from None
    if not isinstance(payload, dict):
        raise DecodeError("bad_payload", f"{header.type}: payload must be a JSON object")
    try:
        declared = model_for(header.type, header.schema_version)
        version, upcast_payload = upcast(header.type, header.schema_version, payload)
        model = model_for(header.type, version)
    except UnknownEventType as exc:
        raise DecodeError("unknown_type", str(exc)) from None
    try:
        if model is not declared:  # an old version must be valid as itself before it is lifted
            declared.model_validate(payload)
        body = model.model_validate(upcast_payload)
    except ValidationError as exc:
        raise DecodeError(
            "bad_payload", f"{header.type} v{header.schema_version}: {_describe(exc, 'payload.')}"
        ) from None
    envelope = Envelope.model_construct(
        **header.model_dump(), payload=body
    ).model_copy(update={"schema_version": version})
    if subject is not None:
        _check_subject(subject, envelope)
    return envelope


def _check_subject(subject: str, envelope: Envelope) -> None:
    try:
        parsed = parse_event_subject(subject)
    except ValueError as exc:
        raise DecodeError("subject_mismatch", str(exc)) from None
    expected = (envelope.source_org, envelope.type, envelope.person_key)
    if tuple(parsed) != expected:
        raise DecodeError(
            "subject_mismatch",
            f"subject {subject!r} does not match the body (source_org={envelope.source_org}, "
            f"type={envelope.type}, person_key={envelope.person_key})",
        )
