"""`sendx alerts run|counts`: the alert process, and what it has sent to whom.

Thin: parse, call `projections.alerts`, print. `run` is what `sendx run` starts (as the
`alerter` NATS user); `counts` reads the process's own record of sent alerts (open and withdrawn).
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from projections.alerts.process import run_alerts
from projections.alerts.sent import SentAlerts
from runtime.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("alerts", help="alerts to whoever owns the next step")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="evaluate the alert rules daily and on every commit; publish new alerts")
    run.set_defaults(func=run_process)
    counts = actions.add_parser("counts", help="alerts open and withdrawn, per owning organisation")
    counts.set_defaults(func=run_counts)


def run_process(_: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_alerts(Settings()))
    return 0


def run_counts(_: argparse.Namespace) -> int:
    settings = Settings()
    path = settings.data_dir / "alerts-sent.sqlite"
    if not path.exists():
        print(f"no alerts sent yet ({path} does not exist)")
        return 0
    sent = SentAlerts(path)
    try:
        counts = sent.counts_by_owner()
    finally:
        sent.close()
    print("owner\topen\twithdrawn")
    for owner, (open_, withdrawn) in counts.items():
        print(f"{owner}\t{open_}\t{withdrawn}")
    print(f"total\t{sum(o for o, _ in counts.values())}\t{sum(w for _, w in counts.values())}")
    return 0
