"""Fixtures for the audit tests: the realistic chained population on a real server, a second
server to hold a tampered copy of the history, and the `sendx audit` command line."""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import nats
import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bench.population import LLR, WireEvent, generate_wire, kind_of
from bench.yardstick import publish_all
from contracts.topology import OrgKind
from projections.audit.stream import StoredMessage, read_stream
from services.bus.nats_server import NatsServer
from services.bus.streams import ensure_streams
from services.commands import audit


@functools.cache
def tiny_population() -> tuple[WireEvent, ...]:
    """~3,100 events from LAs, the ICB, the trust and providers, each source's log chained."""
    return tuple(generate_wire("tiny", 1))


async def publish_wire(js: JetStreamContext, messages: Sequence[WireEvent]) -> None:
    """Publish as the relays do: in order, `Nats-Msg-Id` = event id, every ack awaited."""
    await publish_all(js, messages)


@pytest.fixture
async def population(js: JetStreamContext) -> tuple[WireEvent, ...]:
    """The tiny population published on the test's server."""
    events = tiny_population()
    await publish_wire(js, events)
    return events


@pytest.fixture
def copy_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A second JetStream server, for a copy of the history with one thing tampered."""
    server = NatsServer(store_dir=tmp_path / "copy-nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def copy_nc(copy_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(copy_server.url)
    await ensure_streams(client.jetstream())
    try:
        yield client
    finally:
        await client.drain()


Tamper = Callable[[list[StoredMessage]], list[StoredMessage]]


async def copy_history(source: Client, target: Client, tamper: Tamper) -> None:
    """Copy every stored message from `source` to `target`'s SEND_EVENTS, through `tamper`."""
    stored = [message async for message in read_stream(source)]
    js = target.jetstream()
    for message in tamper(stored):
        await js.publish_async(message.subject, message.data)
    await js.publish_async_completed()


def source_run(messages: Sequence[StoredMessage], org: str, start: int, length: int) -> list[int]:
    """Indexes of `length` consecutive events of `org` (by stream order), from its `start`-th."""
    mine = [i for i, m in enumerate(messages) if m.subject.split(".")[3] == org]
    return mine[start:start + length]


def body(message: StoredMessage) -> dict:
    return orjson.loads(message.data)


def with_body(message: StoredMessage, changes: dict) -> StoredMessage:
    return StoredMessage(message.seq, message.subject,
                         orjson.dumps({**body(message), **changes}), message.stored_at)


def sendx_audit(*argv: str) -> int:
    """`sendx audit …` through the command's own parser and the CLI's error handling."""
    parser = argparse.ArgumentParser(prog="sendx")
    audit.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return int(args.func(args) or 0)


async def run_sendx_audit(*argv: str) -> int:
    """The same from async tests: the command runs its own event loop, so give it a thread."""
    return await asyncio.to_thread(sendx_audit, *argv)


def child_known_to_everyone(population: Sequence[WireEvent]) -> str:
    """The first child with a plan issued and events from an LA, an ICB or trust and a provider,
    with at least 14 events: the story the verify and person-history tests tell."""
    seen: dict[str, list[tuple[str, OrgKind]]] = {}
    for message in population:
        parts = message.subject.split(".")
        seen.setdefault(parts[6], []).append((f"{parts[4]}.{parts[5]}", kind_of(LLR, parts[3])))
    for person, events in seen.items():
        found = {kind for _, kind in events}
        if ("ehc.plan_issued", OrgKind.LA) in events and len(events) >= 14 and (
            {OrgKind.LA, OrgKind.ICB, OrgKind.PROVIDER} <= found
        ):
            return person
    raise LookupError("no child in the population is known to the LA, the ICB and a provider")
