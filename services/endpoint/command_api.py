"""The command API of one service kind, declared once: every subject `send.cmd.<org>.<name>`
the service answers, with its request body, its reply and who decides it.

`CommandApi` is the table; `declare_command_api` turns it into FastStream's typed subscribers,
one per route (and alias), each handler annotated with the route's pydantic body. The service
process runs those subscribers (`services.endpoint.process`) and the AsyncAPI document is
generated from the same declaration on a broker that is never started (`sendx.asyncapi`), so
the published command API is the one that runs: a new command is one more `Command` in a kind's
catalogue.

A name no route has is answered by one more subscriber (`declare_unknown_names`), on
`send.cmd.<org>.>` in a queue group of its own: it names the known commands (with no subscriber
for the name the partner would get the bare no-responders status) and stays silent on every
name a typed subscriber answers. It runs on a NATS connection of its own: the server lets a
service user (`allow_responses`) answer a request once, and a request delivered to two
subscriptions of one connection could then not be answered at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from faststream.nats import NatsBroker, NatsMessage
from faststream.nats.subscriber.usecases import CoreSubscriber
from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.subjects import command_subject, org_commands
from services.domain.command import Command
from services.endpoint.ingest import IMPORT_COMMAND, CommandCatalogue
from services.sharing.quarantine import REQUESTS as QUARANTINE_REQUESTS

RECORD_ID_DESCRIPTION = (
    "Your own id for this command, stable across resends: a command with a record_id is "
    "recorded once; sending it again returns the original event ids with duplicate=true."
)


class CommandReply(BaseModel):
    """The reply to `send.cmd.<org>.<command>`: the ids of the shared events, or why not.

    Accepted: `{"ok": true, "event_ids": [...], "duplicate": false}`; refused:
    `{"ok": false, "error": "..."}` (the error names the field or reference and the rule)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool = Field(description="true: recorded (or already recorded); false: see error.")
    event_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the shared events (event_id and Nats-Msg-Id on SEND_EVENTS).",
    )
    duplicate: bool = Field(default=False, description="The record_id was already recorded.")
    error: str | None = Field(default=None, description="Why the command was refused.")


class ImportRequest(BaseModel):
    """The body of `send.cmd.<org>.import`: extract rows, each a command with its record_id."""

    rows: list[dict[str, Any]] = Field(
        description="One object per row: record_id (required), command (a command name or the "
        "event type it produces) and that command's fields."
    )
    row_numbers: list[int] | None = Field(
        default=None, description="The rows' numbers in the partner's file (default 1..n)."
    )


class RowReport(BaseModel):
    """What became of one import row: accepted with its event ids, or rejected with why."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(description="The row's number (row_numbers, or its position from 1).")
    record_id: str | None = Field(description="The row's record_id, if it had one.")
    accepted: bool
    event_ids: list[str] = Field(default_factory=list, description="When accepted.")
    duplicate: bool = Field(default=False, description="When accepted: already imported.")
    error: str | None = Field(default=None, description="When rejected: names row and field.")


class ImportReply(BaseModel):
    """The reply to an import: one report per row, in row order, and the totals; or, when the
    body itself is unusable, `{"ok": false, "error": "..."}`."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    rows: list[RowReport] = Field(default_factory=list, description="Per-row reports.")
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str | None = None


class Desk(StrEnum):
    """Who decides a request."""

    COMMAND = "command"
    """One partner command (`Ingest.command`)."""
    IMPORT = "import"
    """A batch of extract rows (`Ingest.import_rows`)."""
    QUARANTINE = "quarantine"
    """An operator's request about the relay's quarantine (`QuarantineDesk.answer`)."""


@dataclass(frozen=True)
class Route:
    """One subject the service answers: `send.cmd.<org>.<name>` (or one of its aliases)."""

    name: str
    desk: Desk
    body: type[BaseModel] | None
    """The request body as a partner sends it (None: an operator's free-form request)."""
    reply: type[BaseModel] | None
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def partner_facing(self) -> bool:
        """Published in the AsyncAPI document and counted in the command metrics."""
        return self.desk is not Desk.QUARANTINE


def command_body(kind: str, command: type[Command]) -> type[BaseModel]:
    """A command's fields and the optional `record_id` that makes it idempotent: what the
    service reads from a request (`Ingest.command`)."""
    return create_model(
        f"{kind}.{command.name}",
        __base__=command,
        __doc__=command.__doc__,
        record_id=(str | None, Field(default=None, description=RECORD_ID_DESCRIPTION)),
    )


class CommandApi:
    """The routes of one service kind, by name and alias; a name it does not hold goes to the
    command desk, whose answer names the known commands."""

    def __init__(self, kind: str, catalogue: CommandCatalogue) -> None:
        self.kind = kind
        self.routes: tuple[Route, ...] = (
            *(
                Route(c.name, Desk.COMMAND, command_body(kind, c), CommandReply, c.aliases,
                      c.__doc__ or "")
                for c in catalogue.commands
            ),
            Route(
                IMPORT_COMMAND, Desk.IMPORT,
                create_model(f"{kind}.import", __base__=ImportRequest), ImportReply,
                description=f"A batch of {kind} extract rows, one command each (a row must "
                "carry a record_id).",
            ),
            *(Route(name, Desk.QUARANTINE, None, None) for name in QUARANTINE_REQUESTS),
        )
        self._by_name = {n: r for r in self.routes for n in (r.name, *r.aliases)}

    def route(self, name: str) -> Route | None:
        return self._by_name.get(name)

    def desk(self, name: str) -> Desk:
        route = self.route(name)
        return Desk.COMMAND if route is None else route.desk

    def subjects(self) -> set[str]:
        """Every last subject token the service answers (names and aliases)."""
        return set(self._by_name)


Answer = Callable[[Route | None, str, bytes], Awaitable[bytes]]
"""Decides one request: its route (None: a name no route has), the name it came on (the route's
name or an alias) and the body as sent; returns the reply's bytes. It never raises: a refusal
is a reply."""


def declare_command_api(
    broker: NatsBroker, api: CommandApi, org: str, answer: Answer
) -> tuple[CoreSubscriber, ...]:
    """The typed subscribers of every route and alias of `api` for organisation `org`, in queue
    group `sendx-<org>`: what the service runs and what AsyncAPI documents.

    The broker must not validate bodies (`NatsBroker(apply_types=False)`): each handler's
    annotation declares the body a partner sends, for AsyncAPI, but `answer` gets the bytes as
    sent and validates them with the contract model itself, so a refusal names the field as an
    import's row report does and a body that is not JSON is told so."""
    _check_raw(broker)
    return tuple(
        _typed_subscriber(broker, api, org, route, name, answer)
        for route in api.routes
        for name in (route.name, *route.aliases)
    )


def _check_raw(broker: NatsBroker) -> None:
    if broker.config.fd_config.use_fastdepends:
        raise ValueError(
            "the command API needs NatsBroker(apply_types=False): its handlers take the body as "
            "sent and validate it with the command's own model"
        )


async def _as_sent(msg: NatsMessage) -> bytes:
    """The decoder of a typed subscriber: the body's bytes, undecoded."""
    return msg.body


async def _whole_message(msg: NatsMessage) -> NatsMessage:
    """The decoder of the unknown-names subscriber: it needs the subject and reply subject."""
    return msg


def _typed_subscriber(
    broker: NatsBroker, api: CommandApi, org: str, route: Route, name: str, answer: Answer
) -> CoreSubscriber:
    async def handle(body: bytes) -> bytes:
        return await answer(route, name, body)

    # what FastStream documents: the route's body (an operator's request has none to publish)
    handle.__annotations__ = {"body": route.body or bytes, "return": bytes}
    subscriber = broker.subscriber(
        command_subject(org, name), queue=f"sendx-{org}", decoder=_as_sent,
        title=f"{api.kind}:{name}", description=_description(api.kind, route),
        include_in_schema=route.partner_facing and name == route.name,
    )
    subscriber(handle)
    return subscriber


def declare_unknown_names(
    broker: NatsBroker, api: CommandApi, org: str, answer: Answer
) -> CoreSubscriber:
    """The subscriber answering the names of `send.cmd.<org>.>` no typed subscriber has, on a
    broker other than the typed subscribers' (its own connection, see above).

    Every request reaches it as well as its typed subscriber (its own queue group), so it
    replies itself (`no_reply`), to names no typed subscriber has, and to nothing else."""
    _check_raw(broker)
    known, prefix = api.subjects(), org_commands(org).removesuffix(">")

    async def unknown_names(msg: NatsMessage) -> bytes | None:
        name = msg.raw_message.subject.removeprefix(prefix)
        if name in known:
            return None
        body = await answer(None, name, msg.body)
        if msg.reply_to:
            await broker.publish(body, msg.reply_to)
        return body  # what `TestNatsBroker.request` hands back

    subscriber = broker.subscriber(
        org_commands(org), queue=f"sendx-{org}-unknown", decoder=_whole_message,
        no_reply=True, include_in_schema=False,
    )
    subscriber(unknown_names)
    return subscriber


def _description(kind: str, route: Route) -> str:
    if route.reply is None:
        return route.description
    reply = f"Reply: {route.reply.__name__}, on the request's reply subject."
    if route.desk is Desk.IMPORT:
        return f"{route.description} {reply}"
    return (
        f"{inspect.cleandoc(route.description)}\n\nA {kind} service command (also accepted as "
        f"{', '.join(route.aliases) or 'no alias'}); optional `record_id` makes it idempotent. "
        f"{reply}"
    ).strip()
