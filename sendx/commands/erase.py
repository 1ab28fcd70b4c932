"""`sendx erase NHS_NUMBER --org 856 --reason data_subject_request`: erase a person from the
shared history through the LA service that registered them.

The LA records the erasure in its own store and answers with the id of the `person.erased`
event; its relay deletes the person's sealing key and publishes that event, usually within a
second. From then on every copy of their personal fields on the bus reads as erased. The person
is named by NHS number, as in every LA command: the service holds it, whereas the shared person
key is a one-way pseudonym that nobody can turn back into a record.

It logs in as `sendx command` does: as the LA's partner system (`<kind>-<org>-client`, from
`SENDX_NATS_USER`/`SENDX_NATS_PASSWORD`, else the embedded server's data directory), bounded
by `--timeout`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import get_args

import orjson

from contracts.person import ErasureReason
from sendx.commands.ingest import add_bus_arguments, connect
from services.domain.people import ErasePerson


def register(subparsers: argparse._SubParsersAction) -> None:
    erase = subparsers.add_parser(
        "erase", help="erase a person's personal fields from the shared history (LA service)"
    )
    erase.add_argument("nhs_number", help="the person's NHS number, as registered by the LA")
    erase.add_argument("--org", required=True, help="code of the LA that registered them")
    erase.add_argument("--reason", required=True, choices=get_args(ErasureReason))
    erase.add_argument("--on", default=None, help="date decided, YYYY-MM-DD (default today)")
    erase.add_argument("--record-id", default=None, help="your id for this erasure")
    add_bus_arguments(erase)
    erase.set_defaults(func=run_erase)


async def _erase(args: argparse.Namespace, fields: dict) -> dict:
    async with await connect(args) as client:
        return await client.command(ErasePerson.name, fields, args.record_id)


def run_erase(args: argparse.Namespace) -> int:
    fields = {"nhs_number": args.nhs_number, "reason": args.reason}
    if args.on:
        fields["erased_on"] = args.on
    answer = asyncio.run(_erase(args, fields))
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    if not answer.get("ok"):
        print(f"sendx erase: rejected: {answer.get('error')}", file=sys.stderr)
        return 1
    if not answer.get("event_ids"):
        print("sendx erase: the person was already erased; nothing new to share", file=sys.stderr)
    return 0
