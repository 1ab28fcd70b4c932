"""`sendx service <kind> --org CODE`: run one organisation's service until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from contracts.topology import OrgKind
from runtime.partnership import organisation
from runtime.settings import Settings
from services.endpoint.process import OrganisationService, definition_for


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "service", help="run an organisation's service: store, relay and command endpoint"
    )
    p.add_argument("kind", choices=[k.value for k in OrgKind], help="organisation kind")
    p.add_argument("--org", required=True, help="organisation code, e.g. 856")
    p.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    p.add_argument(
        "--sqlite", type=Path, default=None, help="store file (default in $SENDX_DATA_DIR)"
    )
    p.add_argument(
        "--metrics-port", type=int, default=None,
        help="serve /healthz, /readyz, /metrics here (default $SENDX_METRICS_PORT; 0 = off)",
    )
    p.set_defaults(func=run)


async def serve(service: OrganisationService) -> None:
    async with service:
        print(
            f"{service.org.name} ({service.org.kind.value} {service.org.code}): commands on "
            f"{service.org.command_subjects}, events to {service.org.event_subjects} via "
            f"{service.nats_url}",
            flush=True,
        )
        await service.serve_forever()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    org = organisation(args.org)
    kind = OrgKind(args.kind)
    if org.kind is not kind:
        raise ValueError(
            f"organisation {org.code} ({org.name}) is a {org.kind.value}, not a {kind.value}"
        )
    settings = Settings()
    settings.warn_if_demo_key()
    service = OrganisationService(
        definition_for(kind), org, settings=settings, nats_url=args.nats, sqlite_path=args.sqlite,
        metrics_port=args.metrics_port,
    )
    asyncio.run(serve(service))
    return 0
