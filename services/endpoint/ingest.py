"""Partner-facing parsing and validation, written once for every service kind.

A partner sends single commands (a JSON object of fields) or extracts (CSV, Excel .xlsx or JSON
lines, read by `services.endpoint.extracts`):
one row = one command, with `record_id` (the partner's own id for the row: the row is
imported once, however often the extract is sent), `command` (a command name such as
`ehc.issue_plan`, or the event type it produces, `ehc.plan_issued`) and that command's fields.
Every row gets a report: accepted with the ids of the events it caused, or rejected with a
reason naming the row and the field. Nothing here raises for bad input. The rows of one import
request that parse are executed together (`OrganisationApplication.execute_all`: one
transaction for the request, each row still with its own outcome).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from services.domain.aggregates import DomainError
from services.domain.application import OrganisationApplication, Outcome, Result
from services.domain.command import Command
from services.endpoint.extracts import ExtractError, read_extract  # noqa: F401  (read by `services.endpoint.extracts`)

RESERVED = ("record_id", "command")
IMPORT_COMMAND = "import"
"""`send.cmd.<org>.import`: a batch of extract rows in, a per-row report out."""


class RowRejected(ValueError):
    """A row or command the service will not record; the message names where and why."""


@dataclass(frozen=True)
class RowReport:
    row: int
    record_id: str | None
    accepted: bool
    event_ids: list[str] = field(default_factory=list)
    duplicate: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.accepted:
            return {
                "row": self.row,
                "record_id": self.record_id,
                "accepted": True,
                "event_ids": self.event_ids,
                "duplicate": self.duplicate,
            }
        return {
            "row": self.row,
            "record_id": self.record_id,
            "accepted": False,
            "error": self.error,
        }


DATE_ERRORS = ("date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact")


def _message(error: dict[str, Any], command: type[Command]) -> str:
    if error["type"] in DATE_ERRORS:
        why = (error.get("ctx") or {}).get("error")
        return (f"expected a date as YYYY-MM-DD (e.g. 2026-01-05 for 5 January 2026), got "
                f"{error['input']!r}" + (f" ({why})" if why else ""))
    if error["type"] == "extra_forbidden":
        return f"not a field of {command.name}"
    if error["type"] == "missing":
        return f"required by {command.name}"
    return str(error["msg"]).removeprefix("Value error, ")


def describe(exc: ValidationError, command: type[Command], where: str) -> str:
    """`row 7, field nhs_number: fails the modulus-11 check digit` (one clause per field)."""
    return "; ".join(
        f"{where}field {'.'.join(str(p) for p in e['loc']) or '?'}: {_message(e, command)}"
        for e in exc.errors()
    )


class CommandCatalogue:
    """The commands one service kind accepts, by name and by the event type they produce."""

    def __init__(self, commands: Iterable[type[Command]]) -> None:
        self.commands = list(commands)
        self._by_name = {n: c for c in self.commands for n in (c.name, *c.aliases)}

    def resolve(self, name: str, where: str = "") -> type[Command]:
        try:
            return self._by_name[name.strip()]
        except KeyError:
            known = ", ".join(c.name for c in self.commands)
            field = f"{where}field command: " if where else ""
            raise RowRejected(f"{field}unknown command {name!r}; known: {known}") from None

    def parse(self, name: str, fields: dict[str, Any], where: str = "") -> Command:
        command = self.resolve(name, where)
        try:
            return command.model_validate(fields)
        except ValidationError as exc:
            raise RowRejected(describe(exc, command, where)) from None

    def parse_row(self, row: dict[str, Any], where: str) -> tuple[str, Command]:
        """A row of an extract: (record_id, command). Empty CSV cells count as absent."""
        values = {k.strip(): v for k, v in row.items() if k and v not in ("", None)}
        record_id = str(values.pop("record_id", "")).strip()
        if not record_id:
            raise RowRejected(
                f"{where}field record_id: required (your own id for this row, so that it is "
                "imported only once)"
            )
        name = values.pop("command", None)
        if not isinstance(name, str) or not name.strip():
            raise RowRejected(f"{where}field command: required (a command name or event type)")
        return record_id, self.parse(name, values, where)


class Ingest:
    """Partner input -> one application call -> JSON reply. Bad input is a reply, not a crash."""

    def __init__(self, app: OrganisationApplication, catalogue: CommandCatalogue) -> None:
        self.app = app
        self.catalogue = catalogue

    def _not_stored(self, exc: PersistenceError) -> str:
        """The store refused the write (disk full, read-only, database down): nothing happened."""
        return (
            f"not recorded: the {self.app.org.code} service could not write to its store "
            f"({exc}); nothing was stored or shared, send it again later"
        )

    def command(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A single command; an optional `record_id` in the body makes re-sending harmless."""
        fields = dict(body)
        record_id = fields.pop("record_id", None)
        try:
            command = self.catalogue.parse(name, fields)
            outcome = self.app.execute(command, str(record_id) if record_id is not None else None)
        except (RowRejected, DomainError) as exc:
            return {"ok": False, "error": str(exc)}
        except PersistenceError as exc:
            return {"ok": False, "error": f"{name}: {self._not_stored(exc)}"}
        return {
            "ok": True,
            "event_ids": [str(i) for i in outcome.event_ids],
            "duplicate": outcome.duplicate,
        }

    def parse_row(self, number: int, row: Any) -> tuple[str, Command] | RowReport:
        """(record_id, command), or the report rejecting the row."""
        record_id = row.get("record_id") if isinstance(row, dict) else None
        try:
            if not isinstance(row, dict):
                raise RowRejected(f"row {number}: must be a JSON object of column -> value")
            return self.catalogue.parse_row(row, f"row {number}, ")
        except RowRejected as exc:
            return RowReport(number, _str(record_id), False, error=str(exc))

    def report(self, number: int, record_id: str, result: Result) -> RowReport:
        """The row's report from what executing its command came to."""
        if isinstance(result, Outcome):
            event_ids = [str(i) for i in result.event_ids]
            return RowReport(number, record_id, True, event_ids, result.duplicate)
        if isinstance(result, DomainError):
            return RowReport(number, record_id, False, error=f"row {number}: {result}")
        return RowReport(
            number, record_id, False, error=f"row {number}: {self._not_stored(result)}"
        )

    def import_row(self, number: int, row: Any) -> RowReport:
        parsed = self.parse_row(number, row)
        if isinstance(parsed, RowReport):
            return parsed
        record_id, command = parsed
        (result,) = self.app.execute_all([(command, record_id)])
        return self.report(number, record_id, result)

    def import_rows(self, body: dict[str, Any]) -> dict[str, Any]:
        """`{"rows": [...], "row_numbers": [...]}` -> per-row reports (row order is kept)."""
        rows = body.get("rows")
        if not isinstance(rows, list):
            return {"ok": False, "error": 'import body must be {"rows": [ {...}, ... ]}'}
        numbers = body.get("row_numbers") or list(range(1, len(rows) + 1))
        if not isinstance(numbers, list) or len(numbers) != len(rows):
            return {"ok": False, "error": "row_numbers must have one number per row"}
        if not all(type(n) is int for n in numbers):
            return {"ok": False, "error": "row_numbers must be whole numbers (the extract's rows)"}
        reports: dict[int, RowReport] = {}
        parsed: list[tuple[int, str, Command]] = []
        for index, (number, row) in enumerate(zip(numbers, rows, strict=True)):
            match self.parse_row(number, row):
                case RowReport() as rejected:
                    reports[index] = rejected
                case (record_id, command):
                    parsed.append((index, record_id, command))
        results = self.app.execute_all([(command, record_id) for _, record_id, command in parsed])
        for (index, record_id, _), result in zip(parsed, results, strict=True):
            reports[index] = self.report(numbers[index], record_id, result)
        ordered = [reports[index] for index in range(len(rows))]
        return {"ok": True, "rows": [r.to_json() for r in ordered], **summary(ordered)}


def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def summary(reports: Iterable[RowReport]) -> dict[str, int]:
    reports = list(reports)
    return {
        "accepted": sum(r.accepted for r in reports),
        "duplicates": sum(r.duplicate for r in reports),
        "rejected": sum(not r.accepted for r in reports),
    }
