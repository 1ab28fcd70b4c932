"""The AsyncAPI 3.0 document of the whole bus: every event subject with its envelope and payload
schema (every registered version), and the command subjects of each service kind.

Generated, never hand-written: FastStream builds the document from a broker on which every
event subject is declared as a publisher (schema: the envelope with that type's payload, one
alternative per registered version) and every command subject as a typed subscriber; the
broker is never connected. Command models belong to the services, so they are passed in
(`services/commands/schemas.py` collects them from the service definitions).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any, Union

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.registry import all_events
from contracts.schemas import envelope_model
from contracts.subjects import COMMAND_ROOT, EVENT_PREFIX

TITLE = "send-exchange bus"
PARAMETERS = {
    "source_org": "Code of the publishing organisation (DfE LA code, NHS ODS code, provider id).",
    "person_key": "Pseudonymous person key (keyed HMAC of the NHS number).",
    "org": "Code of the organisation whose service answers the command.",
}


class CommandReply(BaseModel):
    """The reply to `send.cmd.<org>.<command>`: the ids of the shared events, or why not."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    event_ids: list[str] = Field(default_factory=list, description="Ids of the shared events.")
    duplicate: bool = Field(default=False, description="The record_id was already imported.")
    error: str | None = Field(default=None, description="Why the command was refused.")


class ImportRequest(BaseModel):
    """The body of `send.cmd.<org>.import`: extract rows, each a command with its record_id."""

    rows: list[dict[str, Any]] = Field(description="One object per row: record_id, command, ...")
    row_numbers: list[int] | None = Field(
        default=None, description="The rows' numbers in the partner's file (default 1..n)."
    )


class ImportReply(BaseModel):
    """The reply to an import: one report per row, and the totals."""

    ok: bool
    rows: list[dict[str, Any]] = Field(default_factory=list, description="Per-row reports.")
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str | None = None


def _declare_events(broker: NatsBroker) -> None:
    for event_type, specs in groupby(all_events(), key=lambda s: s.type):
        versions = sorted(specs, key=lambda s: s.version, reverse=True)
        models = tuple(envelope_model(s) for s in versions)
        current = versions[0]
        family, name = event_type.split(".")
        broker.publisher(
            f"{EVENT_PREFIX}.{{source_org}}.{family}.{name}.{{person_key}}",
            title=event_type,
            description=(
                f"{inspect.cleandoc(current.model.__doc__ or '')}\n\nSchema versions: "
                f"{', '.join(f'v{s.version}' for s in versions)} (current v{current.version}; "
                "older versions are upcast on decode)."
            ),
            schema=Union[models] if len(models) > 1 else models[0],  # noqa: UP007
        )


def _handler(model: type[BaseModel]) -> Any:
    async def handle(body: Any) -> None:
        """Documentation only: the broker is never started."""

    handle.__annotations__ = {"body": model, "return": None}  # FastStream reads the body type
    return handle


def _declare_commands(broker: NatsBroker, kind: str, commands: Sequence[type[BaseModel]]) -> None:
    for command in commands:
        name = command.name  # type: ignore[attr-defined]
        aliases = getattr(command, "aliases", ())
        body = create_model(f"{kind}.{name}", __base__=command, __doc__=command.__doc__)
        broker.subscriber(
            f"{COMMAND_ROOT}.{{org}}.{name}",
            title=f"{kind}:{name}",
            description=(
                f"{inspect.cleandoc(command.__doc__ or '')}\n\nA {kind} service command (also "
                f"accepted as {', '.join(aliases) or 'no alias'}); optional `record_id` makes "
                "it idempotent. Reply: CommandReply."
            ).strip(),
        )(_handler(body))
    broker.subscriber(
        f"{COMMAND_ROOT}.{{org}}.import",
        title=f"{kind}:import",
        description=f"A batch of {kind} extract rows. Reply: ImportReply.",
    )(_handler(create_model(f"{kind}.import", __base__=ImportRequest)))


def _add_parameters(document: dict[str, Any]) -> None:
    """AsyncAPI 3 wants every `{name}` of a channel address declared as a parameter."""
    for channel in document.get("channels", {}).values():
        address = channel.get("address", "")
        used = {p: {"description": d} for p, d in PARAMETERS.items() if f"{{{p}}}" in address}
        if used:
            channel["parameters"] = used


def bus_document(
    commands: Mapping[str, Sequence[type[BaseModel]]] | None = None,
    *,
    server: str = "nats://127.0.0.1:4222",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict) of every event and command subject."""
    broker = NatsBroker(server)
    _declare_events(broker)
    for kind, kind_commands in (commands or {}).items():
        _declare_commands(broker, kind, kind_commands)
    document = (
        AsyncAPI(
            broker,
            title=TITLE,
            version=version,
            description=(
                "Events on stream SEND_EVENTS (subject send.evt.v1.<source_org>.<family>.<name>."
                "<person_key>) and the request-reply command API of each organisation's service "
                "(send.cmd.<org>.<command>). Generated by `sendx schemas asyncapi`."
            ),
            schema_version="3.0.0",
        )
        .to_specification()
        .to_jsonable()
    )
    _add_parameters(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for reply in (CommandReply, ImportReply):
        schemas[reply.__name__] = reply.model_json_schema()
    return document
