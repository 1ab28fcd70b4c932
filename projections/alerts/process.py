"""`sendx alerts run`: the alert process, reading the read models the projectors keep.

The clock: `SENDX_ALERTS_TODAY` (YYYY-MM-DD) fixes "today" (a demo or a test); unset, it is
the UTC date, so the daily evaluation happens by itself as dates pass. The record of sent
alerts is `$SENDX_DATA_DIR/alerts-sent.sqlite`.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import date

from contracts.topology import OrgKind
from projections.alerts.runner import AlertRunner, Clock, utc_today
from projections.alerts.sent import SentAlerts
from projections.dataset.projection import DATASET
from projections.serving.processes import open_store, store_location
from projections.tracker.store import TRACKER
from runtime.bus.connection import connect_bus
from runtime.partnership import DEMO_PARTNERSHIP
from runtime.settings import Settings

TODAY_VARIABLE = "SENDX_ALERTS_TODAY"
INTERVAL_VARIABLE = "SENDX_ALERTS_INTERVAL"


def clock_from_env(env: dict[str, str] | os._Environ[str] = os.environ) -> Clock:
    fixed = env.get(TODAY_VARIABLE)
    if not fixed:
        return utc_today
    try:
        day = date.fromisoformat(fixed)
    except ValueError:
        raise ValueError(f"{TODAY_VARIABLE} must be YYYY-MM-DD, not {fixed!r}") from None
    return lambda: day


def partnership_icb() -> str:
    """The partnership's ICB: told of LA-only discrepancies no health organisation referred."""
    return next(o.code for o in DEMO_PARTNERSHIP if o.kind is OrgKind.ICB)


async def run_alerts(settings: Settings, today: Clock | None = None) -> None:
    """The alert process until SIGINT/SIGTERM."""
    tracker = open_store(TRACKER, store_location(settings, TRACKER))
    dataset = open_store(DATASET, store_location(settings, DATASET))
    sent = SentAlerts(settings.sqlite_path("alerts-sent"))
    nc = await connect_bus(settings.nats_url, name="sendx-alerts")
    runner = AlertRunner(
        nc, tracker, dataset, sent, default_health=partnership_icb(),
        today=today or clock_from_env(),
        interval=float(os.environ.get(INTERVAL_VARIABLE, "60")),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.stop)
    try:
        await runner.run()
    finally:
        await nc.drain()
        sent.close()
        tracker.close()
        dataset.close()
