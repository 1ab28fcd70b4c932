"""`sendx deadletters list|show|retry|counts`: look at and retry what the projections refused.

Thin: parse arguments, call one function of `projections.deadletter_queue`, print. `retry` exits 1
if a retried letter still fails to decode (it was dead-lettered again, with the reason) or was
refused because its content breaks the topology (recorded, with who tried).

Who it logs in as (`login`): `$SENDX_NATS_USER` when set (a deployment gives the operator the
`retrier` user's password); otherwise, beside an embedded secured server (`sendx run`, `sendx nats
--secure`), the `retrier` user from `$SENDX_DATA_DIR/nats-credentials.json`; otherwise nobody
(an open server). Every retry records that user and the operator's login (`Sendx-Retried-By`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext

from projections.deadletter_queue import (
    DeadLetter,
    RetryOutcome,
    dead_letter_counts,
    list_dead_letters,
    retry_dead_letter,
    retry_dead_letters,
    show_dead_letter,
)
from runtime.bus.permissions import Role
from runtime.settings import Settings
from sendx.commands.login import connect_as, login_as

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deadletters", help="list, show and retry messages the projections could not decode"
    )
    bus = argparse.ArgumentParser(add_help=False)
    bus.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser(
        "list", parents=[bus], help="one line per dead letter, oldest first"
    )
    ls.add_argument("--reason", default=None, help="only this decode reason, e.g. unknown_type")
    ls.add_argument("--limit", type=int, default=None, help="at most N letters")
    ls.add_argument("--open", action="store_true", help="only letters not yet retried")
    ls.set_defaults(func=run_list)

    show = actions.add_parser(
        "show", parents=[bus], help="a letter's headers, error and original bytes"
    )
    show.add_argument("seq", type=int, help="sequence on SEND_DEADLETTER")
    show.set_defaults(func=run_show)

    retry = actions.add_parser(
        "retry",
        parents=[bus],
        help="republish letters that now decode; dead-letter again those that do not"
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("seq", type=int, nargs="?", help="sequence on SEND_DEADLETTER")
    which.add_argument("--all", action="store_true", help="every letter not yet retried")
    retry.add_argument("--reason", default=None, help="with --all: only this decode reason")
    retry.set_defaults(func=run_retry)

    counts = actions.add_parser("counts", parents=[bus], help="dead letters per reason")
    counts.add_argument("--open", action="store_true", help="only letters not yet retried")
    counts.set_defaults(func=run_counts)


def login(settings: Settings) -> dict[str, str]:
    """The NATS user and password `sendx deadletters` connects with ({}: none, an open server)."""
    return login_as(Role.RETRIER.value, settings)


def retried_by(credentials: dict[str, str]) -> str:
    """What a retry records about who made it: the NATS user and the operator's login."""
    return f"{credentials.get('user', 'anonymous')} (login {getpass.getuser()})"


async def connect_retrier(url: str, credentials: dict[str, str]) -> Client:
    return await connect_as(url, credentials, role=Role.RETRIER.value, name="sendx-deadletters")


def _on_bus(
    args: argparse.Namespace,
    work: Callable[[JetStreamContext], Awaitable[T]],
    credentials: dict[str, str] | None = None,
) -> T:
    credentials = login(Settings()) if credentials is None else credentials

    async def session() -> T:
        nc = await connect_retrier(args.nats or Settings().nats_url, credentials)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.drain()

    return asyncio.run(session())


def format_letter(letter: DeadLetter) -> str:
    return (
        f"{letter.seq}\t{letter.time:%Y-%m-%dT%H:%M:%SZ}\t{letter.reason}\t"
        f"{letter.original_subject}\t{letter.status}\t{letter.error}"
    )


def describe_letter(letter: DeadLetter) -> str:
    headers = "\n".join(f"  {name}: {value}" for name, value in sorted(letter.headers.items()))
    body = letter.data.decode("utf-8", errors="backslashreplace")
    return (
        f"dead letter {letter.seq} ({letter.subject}) stored {letter.time.isoformat()}\n"
        f"status: {letter.status}\n"
        f"reason: {letter.reason}\n"
        f"error: {letter.error}\n"
        f"original: {letter.original_stream} sequence {letter.original_sequence} on "
        f"{letter.original_subject}\n"
        f"headers:\n{headers}\n"
        f"original bytes ({len(letter.data)}):\n{body}"
    )


def run_list(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    letters = _on_bus(
        args,
        lambda js: list_dead_letters(
            js, reason=args.reason, open_only=args.open, limit=args.limit
        ),
    )
    print("seq\ttime\treason\toriginal subject\tstatus\terror")
    for letter in letters:
        print(format_letter(letter))
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(describe_letter(_on_bus(args, lambda js: show_dead_letter(js, args.seq))))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    if args.reason is not None and not args.all:
        raise ValueError("--reason applies to --all only")

    credentials = login(Settings())
    by = retried_by(credentials)

    async def work(js: JetStreamContext) -> list[RetryOutcome]:
        if args.all:
            return await retry_dead_letters(js, reason=args.reason, retried_by=by)
        return [await retry_dead_letter(js, args.seq, retried_by=by)]

    outcomes = _on_bus(args, work, credentials)
    for outcome in outcomes:
        print(outcome)
    republished = sum(o.result == "republished" for o in outcomes)
    refused = sum(o.result == "refused" for o in outcomes)
    print(f"{len(outcomes)} retried: {republished} republished, "
          f"{len(outcomes) - republished - refused} still invalid, {refused} refused "
          "(the topology forbids them)")
    return 0 if republished == len(outcomes) else 1


def run_counts(args: argparse.Namespace) -> int:
    counts = _on_bus(args, lambda js: dead_letter_counts(js, open_only=args.open))
    for reason, count in counts.items():
        print(f"{reason}\t{count}")
    print(f"total\t{sum(counts.values())}")
    return 0
