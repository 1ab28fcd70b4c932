"""`sendx sharing check|explain|deliveries` and `sendx feeds`: the data-sharing agreement and
the per-partner feeds. Thin: parse arguments, call `contracts.agreements` or `projections.feeds`,
print.

`check` exits 1 naming every problem of the agreement against the topology; `explain <org>`
says in plain words what that organisation receives and why; `deliveries` (as the `auditor`)
lists who was sent what, by which clause, when, from SEND_FEEDS; `feeds` is the feed process
(as the `feeder` NATS user; `sendx run` starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from contracts.agreements import AgreementError, check, explain, parse_agreement
from projections.access.log import access_log_file
from projections.access.tokens import tokens_file
from projections.audit.deliveries import deliveries
from projections.feeds.process import DEFAULT_AGREEMENT, run_feeds
from runtime.bus.permissions import Role
from runtime.partnership import DEMO_PARTNERSHIP, load_agreement
from runtime.settings import Settings
from sendx.commands.login import connect_as, login_as

FEED_STORE = Path("feeds") / "feeds.sqlite"
"""The feed process's store, under `$SENDX_DATA_DIR`."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sharing", help="the data-sharing agreement: check, explain, audit")
    commands = p.add_subparsers(dest="sharing_command", required=True, metavar="COMMAND")

    c = commands.add_parser("check", help="validate the agreement against the topology")
    agreement_option(c)
    c.set_defaults(func=check_command)

    c = commands.add_parser("explain", help="what one organisation receives, and why")
    c.add_argument("org", help="organisation code, e.g. QK1 or 856")
    agreement_option(c)
    c.set_defaults(func=explain_command)

    c = commands.add_parser("deliveries",
                            help="who was sent what, by which clause, when (as the auditor)")
    c.add_argument("--person", default=None, help="only deliveries about this person key")
    c.add_argument("--to", default=None, help="only deliveries to this organisation")
    c.add_argument("--json", action="store_true")
    c.add_argument("--nats", default=None)
    c.set_defaults(func=deliveries_command)

    f = subparsers.add_parser("feeds", help="the feed process: apply the agreement to the "
                              "history and publish each partner's feed")
    agreement_option(f)
    f.add_argument("--store", type=Path, default=None,
                   help=f"the feed store (default $SENDX_DATA_DIR/{FEED_STORE})")
    f.add_argument("--backfill", metavar="REASON", default=None,
                   help="fold the whole history again under this agreement, delivering what it "
                   "covers and was not yet delivered; the reason is recorded")
    f.add_argument("--nats", default=None)
    f.set_defaults(func=feeds_command)


def agreement_option(p: argparse.ArgumentParser, also: str = "") -> None:
    """`--agreement FILE`, for every command that applies the agreement or renders the NATS
    permissions from it (`sendx run`, `sendx nats --secure`, `sendx deploy ...`)."""
    p.add_argument("--agreement", type=Path, default=DEFAULT_AGREEMENT,
                   help=f"the data-sharing agreement file{also} (default "
                   "deploy/sharing/agreements.toml)")


def check_command(args: argparse.Namespace) -> int:
    try:
        agreement = parse_agreement(args.agreement.read_text(), str(args.agreement))
    except AgreementError as exc:
        print(f"sendx sharing check: {exc}", file=sys.stderr)
        return 1
    problems = check(agreement, DEMO_PARTNERSHIP)
    for problem in problems:
        print(f"{args.agreement}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s): the feed process refuses this agreement",
              file=sys.stderr)
        return 1
    print(f"agreement {agreement.id} ({agreement.digest[:12]}) is valid: {len(agreement.clause)} "
          f"clauses for {', '.join(agreement.recipients) or 'nobody'}")
    return 0


def explain_command(args: argparse.Namespace) -> int:
    print(explain(load_agreement(args.agreement), args.org, DEMO_PARTNERSHIP))
    return 0


def deliveries_command(args: argparse.Namespace) -> int:
    async def run() -> list:
        settings = Settings()
        nc = await connect_as(args.nats or settings.nats_url,
                              login_as(Role.AUDITOR.value, settings), role=Role.AUDITOR.value,
                              name="sendx-sharing")
        try:
            return await deliveries(nc, person_key=args.person, recipient=args.to)
        finally:
            await nc.drain()

    found = asyncio.run(run())
    if args.json:
        print(orjson.dumps([s.as_record() for s in found], option=orjson.OPT_INDENT_2).decode())
        return 0
    for s in found:
        print(f"{s.delivered_at.isoformat()}  {s.recipient:<6} {s.event_type:<28} "
              f"from {s.source_org:<6} {s.person_key}  clause {s.clause} (event {s.event_id}, "
              f"seq {s.source_seq})")
    print(f"{len(found)} deliveries", file=sys.stderr)
    return 0


def feeds_command(args: argparse.Namespace) -> int:
    settings = Settings()
    store = args.store or settings.data_dir / FEED_STORE
    asyncio.run(run_feeds(args.nats or settings.nats_url, store, args.agreement, args.backfill,
                          access_log_file(tokens_file(settings.data_dir))))
    return 0
