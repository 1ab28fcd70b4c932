"""`sendx import --org CODE FILE` and `sendx command --org CODE NAME --json '{...}'`.

Both talk to the organisation's running service over NATS (`services.client`) and print its
replies; they exit 1 if anything was rejected, so scripts can stop on a bad extract.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from services.client import ImportReport, ServiceClient
from services.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser("import", help="send a CSV or JSONL extract to a running service")
    imp.add_argument("--org", required=True, help="organisation code, e.g. 856")
    imp.add_argument("file", type=Path, help="extract: .csv or .jsonl")
    imp.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
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
    cmd.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    cmd.set_defaults(func=run_command)


def format_row(row: dict) -> str:
    if row["accepted"]:
        note = " (already imported)" if row.get("duplicate") else ""
        ids = " ".join(row["event_ids"])
        return f"row {row['row']} [{row['record_id']}]: accepted{note} {ids}".rstrip()
    return f"row {row['row']} [{row.get('record_id') or '-'}]: REJECTED {row['error']}"


def print_report(report: ImportReport, *, quiet: bool) -> None:
    for row in report.rows:
        if not quiet or not row["accepted"]:
            print(format_row(row))
    print(report.summary())


async def _import(url: str, org: str, path: Path, batch_size: int) -> ImportReport:
    async with await ServiceClient.connect(url, org) as client:
        return await client.import_file(path, batch_size=batch_size)


def run_import(args: argparse.Namespace) -> int:
    if not args.file.exists():
        raise OSError(f"{args.file}: no such file")
    report = asyncio.run(
        _import(args.nats or Settings().nats_url, args.org, args.file, args.batch_size)
    )
    print_report(report, quiet=args.quiet)
    return 1 if report.rejected else 0


async def _command(url: str, org: str, name: str, fields: dict, record_id: str | None) -> dict:
    async with await ServiceClient.connect(url, org) as client:
        return await client.command(name, fields, record_id)


def run_command(args: argparse.Namespace) -> int:
    try:
        fields = orjson.loads(args.json)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"--json is not valid JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise ValueError("--json must be a JSON object of field -> value")
    answer = asyncio.run(
        _command(args.nats or Settings().nats_url, args.org, args.name, fields, args.record_id)
    )
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    if not answer.get("ok"):
        print(f"sendx command: rejected: {answer.get('error')}", file=sys.stderr)
        return 1
    return 0
