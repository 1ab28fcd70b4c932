"""`sendx settings`: every variable sendx reads, its default and meaning (the README's table).

Rendered from `runtime.settings.Settings`, the one declaration, so the table cannot drift from
the code; `--check` reads this environment and says what is wrong with it, one line a variable.
"""

from __future__ import annotations

import argparse

from runtime.settings import settings, settings_table


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "settings", help="list every environment variable sendx reads (the README's table)"
    )
    command.add_argument("--check", action="store_true",
                         help="check this environment's values instead (exit 2 naming bad ones)")
    command.set_defaults(func=run_settings, reads_settings=False)


def run_settings(args: argparse.Namespace) -> int:
    if args.check:
        settings()
        print("settings: every variable set in this environment is valid")
        return 0
    print(settings_table())
    return 0
