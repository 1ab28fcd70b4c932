"""JSON Schema of every registered event: the published form of the data standard.

Every exported schema is a JSON Schema 2020-12 document with its own `$id`, so a partner's
validator can register them side by side. `envelope` validates a whole message as it travels
on SEND_EVENTS: the envelope header and, chosen by `type` + `schema_version` (`oneOf`, one
alternative per registered version), that version's payload. It is self-contained (every
payload schema sits in its `$defs`), so one file validates any event a partner receives; the
`<type>.v<N>` schemas are the payloads alone.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, create_model

from contracts.envelope import EnvelopeHeader
from contracts.registry import EventSpec, all_events

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "urn:send-exchange:schema:v1:"
"""`$id` of schema `name` is `BASE_URI + name` (`urn:send-exchange:schema:v1:envelope`): a name,
not an address, so it stays true wherever the files are published (`--base-uri` changes it)."""
ENVELOPE = "envelope"


def envelope_model(spec: EventSpec) -> type[BaseModel]:
    """The envelope as it travels for one (type, version): header plus that payload model."""
    camel = "".join(part.title() for part in spec.type.replace(".", "_").split("_"))
    return create_model(
        f"{camel}V{spec.version}Envelope",
        __base__=EnvelopeHeader,
        __doc__=spec.model.__doc__,
        type=(Literal[spec.type], Field(description="Event type.")),  # type: ignore[valid-type]
        schema_version=(Literal[spec.version], Field(description="Payload schema version.")),  # type: ignore[valid-type]
        payload=(spec.model, ...),
    )


def _published(schema: dict[str, Any], name: str, base_uri: str) -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"{base_uri}{name}", **schema}


def envelope_schema(base_uri: str = BASE_URI) -> dict[str, Any]:
    """One schema for every message on the stream: `oneOf` the envelope of each (type, version)."""
    models = tuple(envelope_model(spec) for spec in all_events())
    schema = TypeAdapter(Union[models]).json_schema()  # noqa: UP007 - a runtime tuple of models
    alternatives = schema.pop("anyOf")
    return _published(
        {
            "title": "Envelope",
            "description": (
                "A complete event as published on SEND_EVENTS: the envelope header and the "
                "payload of its `type` and `schema_version`. Exactly one alternative matches a "
                "valid event."
            ),
            "oneOf": alternatives,
            **schema,
        },
        ENVELOPE,
        base_uri,
    )


def event_schemas(base_uri: str = BASE_URI) -> dict[str, dict[str, Any]]:
    """`{"<type>.v<version>": schema}` for every registered payload, plus the envelope."""
    schemas: dict[str, dict[str, Any]] = {ENVELOPE: envelope_schema(base_uri)}
    for spec in all_events():
        name = f"{spec.type}.v{spec.version}"
        schema = spec.model.model_json_schema()
        schema["x-event-type"] = spec.type
        schema["x-schema-version"] = spec.version
        schemas[name] = _published(schema, name, base_uri)
    return schemas
