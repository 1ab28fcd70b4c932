"""`sendx quarantine list|show|republish --org CODE`: the events an organisation's relay could
not publish, kept in its own store (`services.sharing.quarantine`).

Thin: each action is one request to the organisation's running service
(`send.cmd.<org>.quarantine.<action>`), printed. `list` exits 1 while anything is quarantined
(so a script or a check can stop on it); `republish` asks the relay to publish an event again
after the cause was fixed, and exits 1 if the service refused.

Who it logs in as: `$SENDX_NATS_USER` when set; otherwise, beside an embedded secured server
(`sendx run`), the organisation's own partner-system user (`<kind>-<org>-client`) from
`$SENDX_DATA_DIR/nats-credentials.json`; otherwise nobody (an open server).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

import orjson

from runtime.bus.connection import env_credentials
from runtime.bus.credentials import CREDENTIALS_FILE, credentials_for
from runtime.bus.permissions import client_user
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.client import ServiceClient


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quarantine", help="events an organisation's relay could not publish: list, republish"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--org", required=True, help="organisation code, e.g. 856")
    common.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    common.add_argument("--json", action="store_true", help="print the service's reply as JSON")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser("list", parents=[common], help="one line per quarantined event")
    ls.add_argument("--all", action="store_true", help="also those already republished")
    ls.set_defaults(func=run_list)

    show = actions.add_parser("show", parents=[common], help="one quarantined event in full")
    show.add_argument("notification_id", type=int, help="its notification id (from list)")
    show.set_defaults(func=run_show)

    again = actions.add_parser(
        "republish", parents=[common], help="publish quarantined events again, once fixed"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("notification_id", type=int, nargs="?", help="its notification id")
    which.add_argument("--all", action="store_true", help="every quarantined event")
    again.set_defaults(func=run_republish)


def login(org: str, settings: Settings) -> dict[str, str] | None:
    """The organisation's partner-system login ({}: an open server; None: the environment's)."""
    user, _ = env_credentials()
    if user is not None:
        return None
    if (settings.data_dir / CREDENTIALS_FILE).exists():
        return credentials_for(client_user(organisation(org)), settings.data_dir)
    return {}


async def _ask(args: argparse.Namespace, request: str, body: dict[str, Any]) -> dict[str, Any]:
    settings = Settings()
    async with await ServiceClient.connect(
        args.nats or settings.nats_url, args.org, timeout=30,
        credentials=login(args.org, settings),
    ) as client:
        return await client.request(request, body)


def _ask_and_print(args: argparse.Namespace, request: str, body: dict[str, Any]) -> dict | None:
    answer = asyncio.run(_ask(args, request, body))
    if args.json:
        print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    if not answer.get("ok"):
        print(f"sendx quarantine: refused: {answer.get('error')}", file=sys.stderr)
        return None
    return answer


def describe(event: dict[str, Any]) -> str:
    state = (
        f"republished at position {event['republished_position']} ({event['republished_at']})"
        if not event["open"]
        else "waiting for the relay" if event["release_requested_at"] else "quarantined"
    )
    return (
        f"{event['notification_id']}  {event['stored_type']}  event {event['event_id']}  "
        f"{state} since {event['quarantined_at']}, {event['attempts']} attempt(s): "
        f"{event['reason']}"
    )


def run_list(args: argparse.Namespace) -> int:
    answer = _ask_and_print(args, "quarantine.list", {"all": args.all})
    if answer is None:
        return 1
    if not args.json:
        for event in answer["events"]:
            print(describe(event))
        print(f"{answer['open']} event(s) of {args.org} quarantined, not published")
    return 1 if answer["open"] else 0


def run_show(args: argparse.Namespace) -> int:
    answer = _ask_and_print(args, "quarantine.show", {"notification_id": args.notification_id})
    if answer is None:
        return 1
    if not args.json:
        print(orjson.dumps(answer["event"], option=orjson.OPT_INDENT_2).decode())
    return 0


def run_republish(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"requested_by": getpass.getuser()}
    body.update({"all": True} if args.all else {"notification_id": args.notification_id})
    answer = _ask_and_print(args, "quarantine.republish", body)
    if answer is None:
        return 1
    if not args.json:
        released = ", ".join(str(n) for n in answer["released"]) or "nothing"
        print(f"asked {args.org}'s relay to publish again: {released}; "
              f"`sendx quarantine list --org {args.org}` shows what is still quarantined")
    return 0
