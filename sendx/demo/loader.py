"""`sendx run --demo`: write the demo extracts and import them into the running services.

Every organisation of the demo partnership gets its own extract about the same children
(three LAs, the ICB QK1, the trust RT5, the school 120001 and the AP academy AP001), so the
person keys link across them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from sendx.demo.extracts import write_extracts
from services.endpoint.client import ImportReport, ServiceClient, ServiceUnavailable

Credentials = Callable[[str], dict[str, str]]
"""Organisation code -> the NATS credentials of its partner system (secured servers)."""


async def _import_when_ready(
    url: str, org: str, path: Path, wait: float, credentials: Credentials | None
) -> ImportReport:
    deadline = time.monotonic() + wait
    login = credentials(org) if credentials else None
    async with await ServiceClient.connect(url, org, credentials=login) as client:
        while True:
            try:
                return await client.import_file(path)
            except ServiceUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


def write_demo_extracts(out_dir: Path, *, count: int = 600) -> dict[str, Path]:
    """Each demo organisation's extract (CSV) in `out_dir`, by organisation code."""
    return write_extracts(out_dir, count=count)


def load_demo(
    nats_url: str, out_dir: Path, *, wait: float = 30.0, credentials: Credentials | None = None
) -> dict[str, ImportReport]:
    """Import every demo extract (re-running it imports nothing twice)."""
    reports: dict[str, ImportReport] = {}
    for org, path in write_demo_extracts(out_dir).items():
        reports[org] = asyncio.run(_import_when_ready(nats_url, org, path, wait, credentials))
        print(f"demo extract {path.name} -> {org}: {reports[org].summary()}")
    return reports
