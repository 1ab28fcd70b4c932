"""`sendx audit`: replay history as of a moment, verify the live read models and the hash chains,
export one person's history. Thin: parse arguments, call `projections.audit`, print.

Exit status: 0 when everything checked agrees, 1 when a read model differs, a chain shows
tampering or history is missing (so a scheduled job can alert), 2 on bad input.

Every audit command logs in as the `auditor` (`sendx.commands.login`): `$SENDX_NATS_USER`,
or beside the embedded server the auditor's password from the data directory. `chain` and
`verify` check the history against the auditor's checkpoint (`projections.audit.checkpoint`,
default `$SENDX_DATA_DIR/auditor/checkpoint.json`) and write a new one when all is intact.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import orjson
from nats.aio.client import Client

from projections.audit import checkpoint
from projections.audit.asof import ReplayBy, replay_as_of, require_aware
from projections.audit.checkpoint import default_checkpoint
from projections.audit.deliveries import deliveries
from projections.audit.digest import store_contents
from projections.audit.person import (
    check_person_key,
    erasure_of,
    history_csv,
    history_json,
    person_history,
)
from projections.audit.report import (
    chain_document,
    chain_text,
    check_document,
    check_text,
    history_text,
    replay_document,
    replay_text,
)
from projections.audit.tamper import ChainReport, check_chains
from projections.audit.verify import verify_projection
from projections.catalogue import projections_named
from projections.reading.projection import Projection, durable_name
from projections.readmodel import heap
from runtime.bus.permissions import Role
from runtime.progress import shown
from runtime.settings import Settings
from sendx.commands.login import connect_as, login_as


def _moment(text: str) -> datetime:
    try:
        return require_aware(datetime.fromisoformat(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _person_key(text: str) -> str:
    try:
        return check_person_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _store(text: str) -> tuple[str, str]:
    name, sep, location = text.partition("=")
    if not sep or not name or not location:
        raise argparse.ArgumentTypeError(f"--store {text!r}: write NAME=PATH or NAME=DSN")
    return name, location


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="replay, verify and export the shared history")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="AUDIT")

    p = commands.add_parser("replay", help="rebuild a projection as of a moment into a new store")
    p.add_argument("--as-of", type=_moment, required=True, help="ISO 8601 with a UTC offset")
    p.add_argument("--by", type=ReplayBy, choices=list(ReplayBy), default=ReplayBy.RECORDED,
                   help="recorded: what the stream held then; occurred: what had happened then")
    p.add_argument("--projection", default="all", help="a catalogue name, or all (default)")
    p.add_argument("--out", type=Path, default=None,
                   help="keep the store(s): a new .sqlite file, or a folder for --projection all")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--show", action="store_true", help="print a summary (the default)")
    shown.add_argument("--export", choices=["json"], help="print every table as JSON")
    p.add_argument("--nats", default=None, help="NATS URL (default $NATS_URL)")
    p.set_defaults(func=replay)

    p = commands.add_parser("verify", help="rebuild every projection and compare with the live one")
    p.add_argument("--projection", default="all")
    p.add_argument("--store", type=_store, action="append", default=[],
                   help="NAME=PATH (or DSN) of a live store; default "
                   "$SENDX_DATA_DIR/projection-NAME.sqlite")
    p.add_argument("--no-chain", action="store_true",
                   help="skip the hash-chain check (the stream's extent and retention are "
                   "still checked; no checkpoint is written)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--nats", default=None)
    _checkpoint_option(p)
    p.set_defaults(func=verify)

    p = commands.add_parser("chain", help="check every source's hash chain over the stream")
    p.add_argument("--json", action="store_true")
    p.add_argument("--nats", default=None)
    _checkpoint_option(p)
    p.set_defaults(func=chain)

    p = commands.add_parser("person", help="every event about one person, from every organisation")
    p.add_argument("person_key", type=_person_key)
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.add_argument("--out", type=Path, default=None, help="write to a file instead of stdout")
    p.add_argument("--nats", default=None)
    p.set_defaults(func=person)


def _checkpoint_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="the auditor's record of the history last verified (default "
                   "$SENDX_DATA_DIR/auditor/checkpoint.json); written after an intact run")


async def _connect(args: argparse.Namespace) -> Client:
    settings = Settings()
    credentials = login_as(Role.AUDITOR.value, settings)
    return await connect_as(args.nats or settings.nats_url, credentials,
                            role=Role.AUDITOR.value, name="sendx-audit")


def _checkpoint_path(args: argparse.Namespace) -> Path:
    return args.checkpoint or default_checkpoint(Settings().data_dir)


async def _checked_chains(nc: Client, path: Path) -> ChainReport:
    """Check the chains and the history against the checkpoint at `path`; advance it if intact."""
    report = await check_chains(nc, checkpoint=checkpoint.load(path))
    if report.intact and report.stream is not None:
        checkpoint.save(path, checkpoint.next_checkpoint(
            report.stream, report.last_seq, report.messages,
            [(h.source_org, h.stream_seq, h.hash) for h in report.heads],
        ))
    return report


def replay(args: argparse.Namespace) -> int:
    heap.manage()  # it rebuilds read models: see projections.readmodel.heap
    chosen = projections_named(args.projection)
    with tempfile.TemporaryDirectory(prefix="sendx-replay-") as scratch:
        locations = _replay_locations(chosen, args.out, Path(scratch))
        with shown("audit replay"):
            text = asyncio.run(_replay(args, chosen, locations))
        print(text)
    return 0


def _replay_locations(
    chosen: tuple[Projection, ...], out: Path | None, scratch: Path
) -> list[Path]:
    if out is not None and out.suffix == ".sqlite":
        if len(chosen) > 1:
            raise ValueError(f"--out {out} names one store; for {len(chosen)} projections "
                             "give a folder")
        return [out]
    folder = out or scratch
    folder.mkdir(parents=True, exist_ok=True)
    return [folder / f"{p.name}.sqlite" for p in chosen]


async def _replay(
    args: argparse.Namespace, chosen: tuple[Projection, ...], locations: list[Path]
) -> str:
    nc = await _connect(args)
    try:
        outputs = []
        for projection, location in zip(chosen, locations, strict=True):
            done = await replay_as_of(nc, projection, location, as_of=args.as_of, by=args.by)
            store = projection.open_store(location)
            try:
                contents = store_contents(store)
            finally:
                store.close()
            outputs.append(replay_document(done, contents) if args.export
                           else replay_text(done, contents, kept=args.out is not None))
    finally:
        await nc.drain()
    if args.export:
        return orjson.dumps(outputs, option=orjson.OPT_INDENT_2).decode()
    return "\n".join(outputs)  # type: ignore[arg-type]


def verify(args: argparse.Namespace) -> int:
    heap.manage()  # it rebuilds read models: see projections.readmodel.heap
    chosen = projections_named(args.projection)
    given, settings = dict(args.store), Settings()
    locations = [_live_location(p.name, given, settings) for p in chosen]
    with shown("audit verify"):
        text, ok = asyncio.run(_verify(args, chosen, locations))
    print(text)
    return 0 if ok else 1


def _live_location(name: str, given: dict[str, str], settings: Settings) -> Path | str:
    """A DSN as given, a path as a Path; by default where `sendx projector` keeps it."""
    location = given.get(name)
    if location is None:
        return settings.data_dir / f"{durable_name(name)}.sqlite"
    return location if "://" in location else Path(location)


async def _verify(
    args: argparse.Namespace, chosen: tuple[Projection, ...], locations: list[Path | str]
) -> tuple[str, bool]:
    nc = await _connect(args)
    try:
        with tempfile.TemporaryDirectory(prefix="sendx-verify-") as scratch:
            checks = []
            for projection, location in zip(chosen, locations, strict=True):
                workdir = Path(scratch) / projection.name
                workdir.mkdir()
                checks.append(await verify_projection(nc, projection, location, workdir))
        path = _checkpoint_path(args)
        chains, history = None, []
        if args.no_chain:
            history = checkpoint.history_findings(await checkpoint.snapshot(nc),
                                                  checkpoint.load(path))
        else:
            chains = await _checked_chains(nc, path)
    finally:
        await nc.drain()
    ok = (all(c.agrees for c in checks) and (chains is None or chains.intact)
          and not history)
    if args.json:
        document = {"ok": ok, "projections": [check_document(c) for c in checks],
                    "chains": chain_document(chains) if chains else None,
                    "history": [asdict(f) for f in history]}
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode(), ok
    parts = [check_text(c) for c in checks]
    parts.append(chain_text(chains) if chains else history_text(history))
    return "\n".join(parts), ok


def chain(args: argparse.Namespace) -> int:
    async def run() -> tuple[str, bool]:
        nc = await _connect(args)
        try:
            report = await _checked_chains(nc, _checkpoint_path(args))
        finally:
            await nc.drain()
        if args.json:
            return orjson.dumps(chain_document(report), option=orjson.OPT_INDENT_2).decode(), \
                report.intact
        return chain_text(report), report.intact

    with shown("audit chain"):
        text, intact = asyncio.run(run())
    print(text)
    return 0 if intact else 1


def person(args: argparse.Namespace) -> int:
    async def run() -> tuple[list, list]:
        nc = await _connect(args)
        try:
            return (await person_history(nc, args.person_key),
                    await deliveries(nc, person_key=args.person_key))
        finally:
            await nc.drain()

    events, shared = asyncio.run(run())
    data = (history_json(args.person_key, events, shared) if args.format == "json"
            else history_csv(events).encode())
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    else:
        args.out.write_bytes(data)
        print(f"{len(events)} events about {args.person_key} written to {args.out}",
              file=sys.stderr)
    erasure = erasure_of(events)
    print(f"registered by: {', '.join(erasure.registered_by) or 'nobody'}; erased by: "
          f"{', '.join(erasure.erased_by) or 'nobody'}; not yet erased by: "
          f"{', '.join(erasure.not_erased_by) or 'nobody'}", file=sys.stderr)
    recipients = sorted({s.recipient for s in shared})
    print(f"shared {len(shared)} times under the data-sharing agreement, with: "
          f"{', '.join(recipients) or 'nobody'}", file=sys.stderr)
    return 0
