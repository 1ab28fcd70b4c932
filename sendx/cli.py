"""`sendx`: the one console script for every user-facing command.

Each command group lives in its own module under `sendx/commands/` (or in the package
it belongs to) exposing `register(subparsers)`; this file only lists them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

import nats.errors

from runtime.settings import settings

DISTRIBUTION = "send-exchange"

COMMAND_MODULES = (
    "sendx.commands.nats",
    "sendx.commands.deploy",
    "sendx.commands.schemas",
    "sendx.commands.run",
    "sendx.commands.projections",
    "sendx.commands.service",
    "sendx.commands.ingest",
    "sendx.commands.deadletters",
    "sendx.commands.audit",
    "sendx.commands.erase",
    "sendx.commands.quarantine",
    "sendx.commands.settings",
    "sendx.commands.alerts",
    "sendx.commands.webhooks",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sendx", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def package_version() -> str:
    """The installed distribution's version (pyproject.toml), or say it is not installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return f"(not installed: {DISTRIBUTION} has no package metadata; `pip install -e .`)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "reads_settings", True):
            settings()  # a bad variable stops the command before it starts, in one line
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, OSError) as exc:
        print(f"sendx {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except nats.errors.Error as exc:  # a JetStream call refused or unanswered mid-command
        print(f"sendx {args.command}: error: NATS: {str(exc) or type(exc).__name__}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
