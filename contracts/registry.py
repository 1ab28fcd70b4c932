"""One registry maps (event type, schema version) to its payload model, plus upcasters.

Versioning follows eventsourcing's `class_version` / `upcast_v1_v2` idea: old versions stay
registered so stored and in-flight events still validate, and each upcaster lifts a payload
dict one version up, so every consumer reads the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from contracts.envelope import Payload

P = TypeVar("P", bound=type[Payload])
Upcaster = Callable[[dict], dict]

_MODELS: dict[tuple[str, int], type[Payload]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
_CURRENT: dict[str, int] = {}
"""The highest registered version of each event type, kept as models register (decode asks
it for every event)."""


class UnknownEventType(LookupError):
    """No model is registered for this type (or for this version of it)."""


@dataclass(frozen=True)
class EventSpec:
    type: str
    version: int
    model: type[Payload]

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def current(self) -> bool:
        return current_version(self.type) == self.version


def event(event_type: str, version: int = 1) -> Callable[[P], P]:
    """Register a payload model for `event_type` at `version`."""
    family, _, name = event_type.partition(".")
    if not family or not name or "." in name:
        raise ValueError(f"event type {event_type!r} must be 'family.name'")

    def register(model: P) -> P:
        key = (event_type, version)
        if key in _MODELS:
            raise ValueError(f"{event_type} v{version} is registered twice")
        model.event_type = event_type
        model.schema_version = version
        _MODELS[key] = model
        _CURRENT[event_type] = max(version, _CURRENT.get(event_type, version))
        return model

    return register


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function lifting a `from_version` payload dict to `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def current_version(event_type: str) -> int:
    try:
        return _CURRENT[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def model_for(event_type: str, version: int) -> type[Payload]:
    try:
        return _MODELS[(event_type, version)]
    except KeyError:
        if any(t == event_type for (t, _) in _MODELS):
            known = sorted(v for (t, v) in _MODELS if t == event_type)
            raise UnknownEventType(
                f"{event_type} has no schema version {version} (known: {known})"
            ) from None
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def upcast(event_type: str, version: int, payload: dict) -> tuple[int, dict]:
    """Lift `payload` from `version` to the current version of `event_type`."""
    target = current_version(event_type)
    model_for(event_type, version)  # an unknown version is an error, not a silent pass
    while version < target:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise UnknownEventType(f"no upcaster for {event_type} v{version} -> v{version + 1}")
        payload = step(dict(payload))
        version += 1
    return version, payload


def all_events() -> list[EventSpec]:
    """Every registered (type, version), sorted: the catalogue the standard publishes."""
    return [EventSpec(t, v, m) for (t, v), m in sorted(_MODELS.items())]
