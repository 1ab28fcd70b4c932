"""`sendx webhooks run|list|deadletters`: webhook delivery processes and what they gave up on.

Thin: parse, call `projections.delivery`, print. `run --endpoint NAME` is one endpoint's
delivery process (as the `deliverer` NATS user; `sendx run` starts one per configured
endpoint); `deadletters` lists what could not be delivered within the retry period, for
operators (as `retrier`, who reads SEND_DEADLETTER); a partner sees its own through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from projections.delivery.config import load_webhooks, webhooks_file
from projections.delivery.dead_letters import webhook_letters
from projections.delivery.process import run_delivery
from runtime.bus.permissions import Role
from runtime.settings import Settings
from sendx.commands.login import connect_as, login_as


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("webhooks", help="deliver alerts and feeds to partners' HTTPS "
                              "endpoints (CloudEvents, signed)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="one endpoint's delivery process")
    run.add_argument("--endpoint", required=True, help="its name in the webhooks file")
    run.set_defaults(func=run_process)
    ls = actions.add_parser("list", help="the configured endpoints")
    ls.set_defaults(func=run_list)
    letters = actions.add_parser("deadletters",
                                 help="messages not delivered within the retry period")
    letters.add_argument("--org", default=None, help="only this partner's")
    letters.add_argument("--after", type=int, default=0, help="SEND_DEADLETTER cursor")
    letters.add_argument("--limit", type=int, default=100)
    letters.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    letters.set_defaults(func=run_deadletters)


def run_process(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_delivery(Settings(), args.endpoint))
    return 0


def run_list(_: argparse.Namespace) -> int:
    settings = Settings()
    path = webhooks_file(settings.data_dir)
    config = load_webhooks(path)
    if not config.endpoint:
        print(f"no webhook endpoints ({path} does not exist or lists none)")
    for e in config.endpoint:
        print(f"{e.name}\t{e.org}\t{e.url}\t{','.join(e.sources)}\t"
              f"retries for {e.retry_for_seconds:g} s")
    return 0


def run_deadletters(args: argparse.Namespace) -> int:
    settings = Settings()

    async def listing() -> list:
        nc = await connect_as(args.nats or settings.nats_url,
                              login_as(Role.RETRIER.value, settings),
                              role=Role.RETRIER.value, name="sendx-webhooks")
        try:
            return await webhook_letters(nc.jetstream(), args.org, args.after, args.limit)
        finally:
            await nc.close()

    letters = asyncio.run(listing())
    if not letters:
        print("no webhook dead letters")
    for x in letters:
        print(f"{x.sequence}\t{x.org}\t{x.endpoint}\t{x.original_stream}:{x.original_sequence}"
              f"\t{x.event_id}\t{x.attempts} attempts\t{x.error}")
    return 0
