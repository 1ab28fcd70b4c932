"""JSON Schema of every registered event: the published form of the data standard."""

from __future__ import annotations

from typing import Any

from contracts.envelope import EnvelopeHeader
from contracts.registry import all_events


def event_schemas() -> dict[str, dict[str, Any]]:
    """`{"<type>.v<version>": schema}` for every registered payload, plus the envelope."""
    schemas: dict[str, dict[str, Any]] = {"envelope": EnvelopeHeader.model_json_schema()}
    for spec in all_events():
        schema = spec.model.model_json_schema()
        schema["x-event-type"] = spec.type
        schema["x-schema-version"] = spec.version
        schemas[f"{spec.type}.v{spec.version}"] = schema
    return schemas
