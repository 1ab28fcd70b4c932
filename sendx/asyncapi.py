"""The AsyncAPI 3.0 document of the whole bus: every event subject with its envelope and payload
schema (every registered version), and the command subjects of each service kind.

Generated, never hand-written: FastStream builds the document from a broker on which every
event subject is declared as a publisher (schema: the envelope with that type's payload, one
alternative per registered version) and every command subject as a typed subscriber; the
broker is never connected. The command subjects, bodies and replies are each service kind's
`CommandApi` (`services.endpoint.command_api`): the table its service process dispatches by,
passed in by `sendx/commands/schemas.py` from the service definitions.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from itertools import groupby
from typing import Any, Union

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contracts.registry import all_events
from contracts.schemas import envelope_model
from contracts.subjects import COMMAND_ROOT, EVENT_PREFIX
from services.endpoint.command_api import CommandApi, CommandReply, Desk, ImportReply, Route

TITLE = "send-exchange bus"
PARAMETERS = {
    "source_org": "Code of the publishing organisation (DfE LA code, NHS ODS code, provider id).",
    "person_key": "Pseudonymous person key (keyed HMAC of the NHS number).",
    "org": "Code of the organisation whose service answers the command.",
}


REPLY_CHANNEL = "reply"
"""The channel every command's reply comes on: the request's own NATS reply subject."""
REPLY_DESCRIPTION = (
    "NATS request-reply: the reply is published on the request message's reply subject (the "
    "NATS protocol field set by `request()`, not a header or a body field), which is a fresh "
    "subject under the requester's private inbox `_INBOX.<user>.`; that alone correlates a "
    "reply with its request. A client must connect with inbox prefix `_INBOX.<user>` (its NATS "
    "user name): the server lets each user subscribe only below its own prefix. A request to "
    "an organisation with no running service gets the NATS no-responders status (503) at once."
)


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


def _description(kind: str, route: Route) -> str:
    assert route.reply is not None
    reply = f"Reply: {route.reply.__name__}, on the request's reply subject."
    if route.desk is Desk.IMPORT:
        return f"{route.description} {reply}"
    return (
        f"{inspect.cleandoc(route.description)}\n\nA {kind} service command (also accepted as "
        f"{', '.join(route.aliases) or 'no alias'}); optional `record_id` makes it idempotent. "
        f"{reply}"
    ).strip()


def _declare_commands(broker: NatsBroker, api: CommandApi) -> None:
    """A typed subscriber per partner-facing route of the table the service dispatches by."""
    for route in api.routes:
        if not route.partner_facing:
            continue
        assert route.body is not None
        broker.subscriber(
            f"{COMMAND_ROOT}.{{org}}.{route.name}",
            title=f"{api.kind}:{route.name}",
            description=_description(api.kind, route),
        )(_handler(route.body))


def _add_parameters(document: dict[str, Any]) -> None:
    """AsyncAPI 3 wants every `{name}` of a channel address declared as a parameter."""
    for channel in document.get("channels", {}).values():
        address = channel.get("address", "")
        used = {p: {"description": d} for p, d in PARAMETERS.items() if f"{{{p}}}" in address}
        if used:
            channel["parameters"] = used


def bus_document(
    apis: Iterable[CommandApi] = (),
    *,
    server: str = "nats://127.0.0.1:4222",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict) of every event and command subject."""
    broker = NatsBroker(server)
    _declare_events(broker)
    for api in apis:
        _declare_commands(broker, api)
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
    _add_replies(document)
    _add_security(document)
    _correlate(document)
    return document


COMPONENT_REF = "#/components/schemas/{model}"


def _add_replies(document: dict[str, Any]) -> None:
    """Every command operation gets its reply: CommandReply, or ImportReply for `import`, on the
    dynamic reply channel (address null: the request's own reply subject)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, top = models_json_schema(
        [(CommandReply, "validation"), (ImportReply, "validation")], ref_template=COMPONENT_REF
    )
    schemas.update(top.get("$defs", {}))
    messages = components.setdefault("messages", {})
    channel_messages = {}
    for reply in (CommandReply, ImportReply):
        name = reply.__name__
        messages[name] = {
            "name": name,
            "title": name,
            "summary": inspect.cleandoc(reply.__doc__ or "").split("\n")[0],
            "contentType": "application/json",
            "payload": {"$ref": COMPONENT_REF.format(model=name)},
        }
        channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
    document["channels"][REPLY_CHANNEL] = {
        "address": None,
        "title": "reply subject of a command request",
        "description": REPLY_DESCRIPTION,
        "messages": channel_messages,
    }
    for operation in document["operations"].values():
        if not _is_command(document, operation):
            continue
        is_import = operation["channel"]["$ref"].endswith(":import")
        reply = "ImportReply" if is_import else "CommandReply"
        operation["reply"] = {
            "channel": {"$ref": f"#/channels/{REPLY_CHANNEL}"},
            "messages": [{"$ref": f"#/channels/{REPLY_CHANNEL}/messages/{reply}"}],
        }


def _is_command(document: dict[str, Any], operation: dict[str, Any]) -> bool:
    channel = document["channels"][operation["channel"]["$ref"].removeprefix("#/channels/")]
    return str(channel.get("address") or "").startswith(f"{COMMAND_ROOT}.")


SECURITY_SCHEMES = {
    "userPassword": {
        "type": "userPassword",
        "description": (
            "Every connection logs in as its own NATS user. A partner system is "
            "`<kind>-<org>-client` (e.g. `la-856-client`) and may publish only "
            "`send.cmd.<org>.>`; its password comes from the partnership's operator (embedded "
            "server: `$SENDX_DATA_DIR/nats-credentials.json`). Connect with inbox prefix "
            "`_INBOX.<user>`."
        ),
    },
    "clientCertificate": {
        "type": "X509",
        "description": (
            "Where the servers require mutual TLS (deploy/nats/mtls.conf), the client also "
            "presents a certificate signed by the partnership CA, in addition to its user and "
            "password."
        ),
    },
}
PRODUCTION_SERVER = {
    "host": "{host}",
    "protocol": "nats",
    "title": "partnership NATS servers",
    "description": (
        "The partnership's servers (one or a 3-node cluster; the operator gives the addresses, "
        "NATS_URL). TLS is required with the handshake first (nats.js `tls.handshakeFirst`, "
        "nats-py `tls_handshake_first`): the client verifies the server certificate against the "
        "partnership CA before sending its password. Where the servers require mutual TLS the "
        "client also presents its certificate (securitySchemes.clientCertificate)."
    ),
    "variables": {"host": {"description": "host:port of a partnership NATS server"}},
    "tags": [
        {"name": "tls", "description": "TLS required, handshake first, partnership CA."}
    ],
}


def _add_security(document: dict[str, Any]) -> None:
    """User and password on every server; TLS (and optionally a client certificate) in
    production. The embedded development server is plain, on loopback only."""
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    password = {"$ref": "#/components/securitySchemes/userPassword"}
    servers = document["servers"]
    servers["production"] = {**PRODUCTION_SERVER, "security": [password]}
    for server in servers.values():
        server["security"] = [password]
    servers["development"]["description"] = (
        "The embedded server of `sendx run` (loopback only, no TLS); users and passwords in "
        "`$SENDX_DATA_DIR/nats-credentials.json`."
    )


def _correlate(document: dict[str, Any]) -> None:
    """No message has a `correlation_id` header (FastStream's default location). An event
    carries its correlation in the envelope body; a command and its reply are correlated by the
    request's reply subject alone, which AsyncAPI declares on the operation's `reply`."""
    for name, message in document["components"]["messages"].items():
        message.pop("correlationId", None)
        if name.endswith(":Message") and ":" not in name.removesuffix(":Message"):
            message["correlationId"] = {
                "location": "$message.payload#/correlation_id",
                "description": "Groups the events of one case or one import (envelope field).",
            }
