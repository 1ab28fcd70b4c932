"""The one serialisation path on the wire: orjson bytes <-> validated, upcast Envelope.

`decode` raises `DecodeError` with a machine-readable `reason` (used to route dead letters)
and a message naming exactly what was wrong.

Personal fields travel sealed (`contracts.sealing`). `decode(data)` leaves them sealed (null in
the payload, the ciphertext kept in `sealed`, so re-encoding gives the same bytes);
`decode(data, keys=lookup)` opens them with the person's key, or, when the lookup has no key
(the person was erased), lists them in `erased` and leaves them null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from contracts.envelope import Envelope, EnvelopeHeader
from contracts.registry import UnknownEventType, model_for, upcast
from contracts.sealing import SealError, key_name, reveal
from contracts.subjects import event_subject, parse_event_subject

DecodeReason = Literal[
    "bad_json", "not_an_object", "bad_envelope", "unknown_type", "bad_payload", "bad_seal",
    "subject_mismatch", "not_permitted",
]
KeyLookup = Callable[[str], bytes | None]
"""`contracts.sealing.key_name(source_org, person_key)` -> the key that organisation seals the
person's fields under, or None when it is gone (that organisation erased the person)."""


class DecodeError(ValueError):
    """Why a message is not an event to apply; `not_permitted` is raised by readers applying
    `runtime.ownership` to a decoded event (its source may not make that claim)."""

    def __init__(self, reason: DecodeReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def encode(envelope: Envelope) -> bytes:
    """`orjson.dumps(envelope.to_wire())`, byte for byte, from pydantic's serialiser straight to
    JSON: no Python dict in between, half the CPU (every relay, store and rebuild encodes;
    `tests/fuzz/test_encode.py` holds the two equal)."""
    return Envelope.__pydantic_serializer__.to_json(envelope)


def _describe(error: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in error.errors()
    )


def decode(
    data: bytes | str, *, subject: str | None = None, keys: KeyLookup | None = None
) -> Envelope:
    """Parse, validate and upcast one event; if `subject` is given it must agree with the body.

    With `keys`, sealed personal fields are opened (or marked erased when there is no key)."""
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
    except UnknownEventType as exc:
        raise DecodeError("unknown_type", str(exc)) from None
    payload, personal = _personal(header, declared, payload, keys)
    try:
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
    # Every part is validated above: assemble without validating again (or dumping the header).
    values = {**header.__dict__, "schema_version": version, "payload": body}
    if personal:
        values.update(personal)
        envelope = _assemble(values, header.model_fields_set | _ASSEMBLED | personal.keys())
    else:
        envelope = _assemble(values, header.model_fields_set | _ASSEMBLED)
    if subject is not None:
        _check_subject(subject, envelope)
    return envelope


_ASSEMBLED = frozenset({"payload", "schema_version"})
"""Fields `decode` always sets on the envelope, besides the header's."""


def _assemble(values: dict[str, Any], fields_set: set[str]) -> Envelope:
    """What `Envelope.model_construct` ends with, without its per-field pass (every field is
    already in `values`): a third of the cost of decoding."""
    envelope = Envelope.__new__(Envelope)
    object.__setattr__(envelope, "__dict__", values)
    object.__setattr__(envelope, "__pydantic_fields_set__", fields_set)
    object.__setattr__(envelope, "__pydantic_extra__", None)
    object.__setattr__(envelope, "__pydantic_private__", None)
    return envelope


def _check_subject(subject: str, envelope: Envelope) -> None:
    if subject == event_subject(envelope.source_org, envelope.type, envelope.person_key):
        return  # the usual case, without parsing (a tenth of decoding's cost)
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


def _personal(
    header: EnvelopeHeader, model: type, payload: dict[str, Any], keys: KeyLookup | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the sealed/erased fields against the model; open them if `keys` is given.

    Returns the payload to validate and the envelope's new `sealed`/`erased` values.
    """
    if not (model.personal_fields or header.sealed or header.erased):
        return payload, {}  # nothing personal declared, sealed or erased: nothing to check
    declared = set(model.personal_fields)
    sealed: Mapping[str, str] = header.sealed or {}
    erased = tuple(header.erased or ())
    what = f"{header.type} v{header.schema_version}"
    for name in (*sealed, *erased):
        if name not in declared:
            raise DecodeError(
                "bad_payload",
                f"{what}: {name} is sealed or erased but is not a personal field of this event "
                f"(personal: {sorted(declared) or 'none'})",
            )
        if name in payload:
            raise DecodeError(
                "bad_payload", f"{what}: payload.{name} is in clear and also sealed or erased"
            )
    for name in sorted(declared - set(payload) - set(sealed) - set(erased)):
        raise DecodeError(
            "bad_payload",
            f"{what}: payload.{name}: missing; a personal field travels sealed (or is listed in "
            "`erased` once the person is erased)",
        )
    if keys is None or not sealed:
        return payload, {}
    key = keys(key_name(header.source_org, header.person_key))
    if key is None:
        return payload, {"sealed": None, "erased": (*erased, *sealed)}
    try:
        opened = reveal(
            payload, sealed, key, event_id=str(header.event_id), person_key=header.person_key,
            event_type=header.type,
        )
    except SealError as exc:
        raise DecodeError("bad_seal", f"{what} for {header.person_key}: {exc}") from None
    return opened, {"sealed": None}
