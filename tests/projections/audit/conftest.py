"""Fixtures for the audit tests: the realistic chained population on the secured embedded server
(each organisation publishes as its own service, the live projection runs as the projector, and
every audit, in process or through `sendx audit`, logs in as the auditor), a second server to
hold a tampered copy of the history, and the `sendx audit` command line."""

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
from nats.js.api import PubAck

from contracts.topology import Organisation, OrgKind
from projections.audit.stream import StoredMessage, read_stream
from runtime.bus.connection import connect_bus
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer
from runtime.bus.streams import ensure_streams
from sendx.commands import audit
from sendx.demo.population import LLR, WireEvent, generate_wire, kind_of
from tests.projections.conftest import LiveProjection

PARTNERSHIP = tuple(Organisation(code, kind_of(LLR, code), code) for code in LLR.codes)
"""Every organisation of the tiny population, each with its own NATS users."""


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded server's data directory, where `sendx audit` finds the auditor's password
    and keeps its checkpoint; no NATS user of the tester's own."""
    directory = tmp_path / "data"
    monkeypatch.setenv("SENDX_DATA_DIR", str(directory))
    monkeypatch.delenv("SENDX_NATS_USER", raising=False)
    monkeypatch.delenv("SENDX_NATS_PASSWORD", raising=False)
    return directory


@pytest.fixture
def nats_server(data_dir: Path) -> Iterator[NatsServer]:
    """The secured embedded server, as `sendx run` starts it."""
    auth = embedded_auth(data_dir, PARTNERSHIP)
    server = NatsServer(store_dir=data_dir / "nats", auth=auth).start()
    try:
        yield server
    finally:
        server.stop()


async def login(url: str, who: str, data_dir: Path) -> Client:
    return await connect_bus(url, name=f"test-{who}",
                             **credentials_for(who, data_dir, PARTNERSHIP))


@pytest.fixture
async def nc(nats_url: str, data_dir: Path) -> AsyncIterator[Client]:
    """The auditor's connection: what every in-process audit call reads through."""
    admin = await login(nats_url, "admin", data_dir)
    await ensure_streams(admin.jetstream())
    await admin.close()
    client = await login(nats_url, "auditor", data_dir)
    try:
        yield client
    finally:
        await client.drain()


class Sources:
    """Every organisation's service, publishing its own events (what `js.publish` was)."""

    def __init__(self, url: str, data_dir: Path, projector: Client) -> None:
        self._url, self._data_dir = url, data_dir
        self._projector = projector
        self._by_org: dict[str, tuple[Client, JetStreamContext]] = {}

    async def _js(self, subject: str) -> JetStreamContext:
        org = subject.split(".")[3]
        if org not in self._by_org:
            client = await login(self._url, org, self._data_dir)
            self._by_org[org] = client, client.jetstream()
        return self._by_org[org][1]

    async def publish(self, subject: str, data: bytes, **options: object) -> PubAck:
        return await (await self._js(subject)).publish(subject, data, **options)

    async def stream_info(self, name: str):  # noqa: ANN201
        return await self._projector.jetstream().stream_info(name)

    async def consumer_info(self, stream: str, consumer: str):  # noqa: ANN201
        """The projector's own consumers (the auditor may not look at them)."""
        return await self._projector.jetstream().consumer_info(stream, consumer)

    async def close(self) -> None:
        for client, _ in self._by_org.values():
            await client.close()


@pytest.fixture
async def projector(nats_url: str, data_dir: Path, nc: Client) -> AsyncIterator[Client]:
    client = await login(nats_url, "projector", data_dir)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def js(nats_url: str, data_dir: Path, projector: Client) -> AsyncIterator[Sources]:
    """Publishing as the organisations do: each event by its own source's service login."""
    sources = Sources(nats_url, data_dir, projector)
    try:
        yield sources
    finally:
        await sources.close()


@pytest.fixture
async def live(
    nats_url: str, data_dir: Path, js: Sources, tmp_path: Path
) -> AsyncIterator[LiveProjection]:
    """The live dataset runner, logged in as the projector."""
    client = await login(nats_url, "projector", data_dir)
    projection = LiveProjection(client, js, tmp_path / "live.sqlite")  # type: ignore[arg-type]
    await projection.start()
    try:
        yield projection
    finally:
        await projection.stop()
        await client.close()


@functools.cache
def tiny_population() -> tuple[WireEvent, ...]:
    """~3,100 events from LAs, the ICB, the trust and providers, each source's log chained."""
    return tuple(generate_wire("tiny", 1))


async def publish_wire(js: Sources, messages: Sequence[WireEvent]) -> None:
    """Publish as the relays do: `Nats-Msg-Id` = event id, each by its own source's login, one
    ack awaited before the next publish so that stream order is the population's order."""
    for subject, msg_id, data in messages:
        await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})


@pytest.fixture
async def population(js: Sources) -> tuple[WireEvent, ...]:
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
