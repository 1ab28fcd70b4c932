"""The command API of one service kind, declared once: every subject `send.cmd.<org>.<name>`
the service answers, with its request body, its reply and who decides it.

`CommandApi` is the table; `services.endpoint.subscribers.declare_command_api` turns it into
FastStream's typed subscribers, one per route (and alias), each handler annotated with the
route's pydantic body. The service process runs those subscribers (`services.endpoint.process`)
and the AsyncAPI document is generated from the same declaration on a broker that is never
started (`sendx.asyncapi`), so the published command API is the one that runs: a new command is
one more `Command` in a kind's catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

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

