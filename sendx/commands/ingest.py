"""`sendx import --org CODE FILE` and `sendx command --org CODE NAME --json '{...}'`.

Both talk to the organisation's running service over NATS (`services.endpoint.client`) and print its
replies; they exit 1 if anything was rejected, so scripts can stop on a bad extract, and 2
(one line on stderr) when the bus cannot be used: no answer within `--timeout`
(`$SENDX_CLI_TIMEOUT`, default 15 s), a refused login, or no service for the organisation.

Who they log in as (`login`): `$SENDX_NATS_USER` when set; otherwise, beside an embedded secured
server (`sendx run`, `sendx nats --secure`), the organisation's partner system
`<kind>-<org>-client` from `$SENDX_DATA_DIR/nats-credentials.json`; otherwise nobody (an open
server).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from runtime.bus.connection import TIMEOUT_VAR, env_credentials
from runtime.bus.credentials import CREDENTIALS_FILE, credentials_for
from runtime.bus.permissions import client_user
from runtime.partnership import organisation
from runtime.progress import shown, task
from runtime.settings import Settings
from services.endpoint.client import ImportReport, ServiceClient
from services.endpoint.extracts import Row, read_extract


def register(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import", help="send a CSV, Excel (.xlsx) or JSONL extract to a running service"
    )
    imp.add_argument("--org", required=True, help="organisation code, e.g. 856")
    imp.add_argument(
        "file", type=Path, help="extract: .csv (comma, semicolon or tab), .xlsx or .jsonl"
    )
    add_bus_arguments(imp)
    imp.add_argument("--batch-size", type=int, default=200)
    imp.add_argument(
        "--quiet", action="store_true", help="print only rejected rows and the summary"
    )
    imp.set_defaults(func=run_import)

    cmd = subparsers.add_parser("command", help="send one command to a running service")
    cmd.add_argument("--org", required=True, help="organisation code, e.g. 856")
    cmd.add_argument("name", help="command name, e.g. ehc.issue_plan")
    cmd.add_argument("--json", required=True, help="the command's fields as a JSON object")
    cmd.add_argument("--record-id", default=None, help="your id for this command (idempotency)")
    add_bus_arguments(cmd)
    cmd.set_defaults(func=run_command)


def add_bus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    parser.add_argument(
        "--timeout", type=float, default=None,
        help=f"seconds to wait for the server and each reply (default ${TIMEOUT_VAR} or 15)",
    )


def login(org_code: str, settings: Settings) -> tuple[dict[str, str], str]:
    """(NATS user and password, what to do if refused) for commands to `org_code`'s service."""
    client = client_user(organisation(org_code))
    set_vars = (f"set SENDX_NATS_USER={client} and SENDX_NATS_PASSWORD (organisation "
                f"{org_code}'s partner-system login)")
    user, password = env_credentials()
    if user is not None:
        given = {"user": user, "password": password or ""}
        return given, f"check SENDX_NATS_PASSWORD, or {set_vars}"
    stored = settings.data_dir / CREDENTIALS_FILE
    if stored.exists():
        return credentials_for(client, settings.data_dir), (
            f"the password in {stored} is not the server's: restart the embedded server "
            f"(`sendx run` or `sendx nats --secure`) with SENDX_DATA_DIR={settings.data_dir}, "
            f"or {set_vars}"
        )
    return {}, f"{set_vars}, or SENDX_DATA_DIR to the folder holding {CREDENTIALS_FILE}"


async def connect(args: argparse.Namespace) -> ServiceClient:
    settings = Settings()
    credentials, advice = login(args.org, settings)
    return await ServiceClient.connect(
        args.nats or settings.nats_url, args.org, timeout=args.timeout,
        credentials=credentials, advice=advice,
    )


def format_row(row: dict) -> str:
    """`row 5 [r5]: REJECTED field nhs_number: ...`: the row named once (the service's reply
    names it too, for clients that show only the error)."""
    number = row["row"]
    if row["accepted"]:
        note = " (already imported)" if row.get("duplicate") else ""
        ids = " ".join(row["event_ids"])
        return f"row {number} [{row['record_id']}]: accepted{note} {ids}".rstrip()
    error = str(row["error"])
    for prefix in (f"row {number}, ", f"row {number}: ", f"row {number} "):
        error = error.removeprefix(prefix)
    return f"row {number} [{row.get('record_id') or '-'}]: REJECTED {error}"


def print_report(report: ImportReport, *, quiet: bool) -> None:
    for row in report.rows:
        if not quiet or not row["accepted"]:
            print(format_row(row))
    print(report.summary())


async def _import(args: argparse.Namespace, rows: list[Row]) -> ImportReport:
    async with await connect(args) as client:
        tick = task(f"{args.file.name} to organisation {args.org}", len(rows), unit="rows")
        return await client.import_rows(rows, batch_size=args.batch_size, on_progress=tick)


def run_import(args: argparse.Namespace) -> int:
    """The whole file is read (and refused, naming it, if it cannot be an extract) before
    anything is sent; then rows go in batches, with progress on stderr."""
    if not args.file.exists():
        raise OSError(f"{args.file}: no such file")
    rows = list(read_extract(args.file))
    with shown("import"):
        report = asyncio.run(_import(args, rows))
    print_report(report, quiet=args.quiet)
    return 1 if report.rejected else 0


async def _command(args: argparse.Namespace, fields: dict) -> dict:
    async with await connect(args) as client:
        return await client.command(args.name, fields, args.record_id)


def run_command(args: argparse.Namespace) -> int:
    try:
        fields = orjson.loads(args.json)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"--json is not valid JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise ValueError("--json must be a JSON object of field -> value")
    answer = asyncio.run(_command(args, fields))
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    if not answer.get("ok"):
        print(f"sendx command: rejected: {answer.get('error')}", file=sys.stderr)
        return 1
    return 0
