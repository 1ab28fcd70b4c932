"""A partnership on the secured bus for the feed tests: organisations publish, the feed process
(in this process, as the `feeder` user) applies an agreement, recipients read their own feed
as their client login (`<kind>-<org>-client`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import Envelope, encode
from contracts.agreements import Agreement, parse_agreement
from contracts.feeds import FEEDS_STREAM, org_feed
from contracts.sealing import seal
from contracts.subjects import event_subject
from projections.access.log import AccessLog
from projections.feeds.process import FeedProcess, start_feeds
from projections.feeds.store import FeedStore
from runtime.bus.permissions import client_user
from runtime.bus.streams import EVENTS_STREAM
from runtime.keystore import PersonKeyStore
from runtime.partnership import organisation
from tests.projections.conftest import FAST
from tests.runtime.bus.conftest import Connect, Principal
from tests.waiting import eventually

CLAUSE_DEFAULTS = """purpose = "a purpose written for the test"
lawful_basis = ["UK GDPR Art. 6(1)(e)", "UK GDPR Art. 9(2)(h)"]
retention = "1 year"
"""


def agreement_text(*clauses: str, agreement_id: str = "test-agreement") -> str:
    """`[[clause]]` bodies (id, recipient, sources, events, cohort, ...) as one agreement file."""
    body = "".join(f"[[clause]]\n{c.strip()}\n{CLAUSE_DEFAULTS}\n" for c in clauses)
    return f'[agreement]\nid = "{agreement_id}"\ntitle = "test"\n\n{body}'


def agreement_of(*clauses: str, agreement_id: str = "test-agreement") -> Agreement:
    """`[[clause]]` bodies (id, recipient, sources, events, cohort, ...) as one agreement."""
    return parse_agreement(agreement_text(*clauses, agreement_id=agreement_id))


@dataclass
class Received:
    subject: str
    data: bytes
    headers: dict[str, str]


@dataclass
class Recipient:
    """A recipient's partner system reading its own feed through `<org>-feed`."""

    org: str
    principal: Principal
    got: list[Received] = field(default_factory=list)

    @property
    def durable(self) -> str:
        return f"{self.org}-feed"

    async def open(self) -> Recipient:
        js = self.principal.nc.jetstream()
        try:
            await js.consumer_info(FEEDS_STREAM, self.durable)
        except NotFoundError:
            await js.add_consumer(FEEDS_STREAM, ConsumerConfig(
                name=self.durable, durable_name=self.durable, filter_subject=org_feed(self.org),
                deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
            ))
        self._sub = await js.pull_subscribe_bind(self.durable, FEEDS_STREAM)
        return self

    async def take(self) -> list[Received]:
        """Whatever the feed holds for us now (acked), added to `got`."""
        try:
            msgs: list[Msg] = await self._sub.fetch(500, timeout=0.3)
        except TimeoutError:
            return self.got
        for msg in msgs:
            self.got.append(Received(msg.subject, msg.data, dict(msg.headers or {})))
            await msg.ack()
        return self.got

    async def drained(self) -> bool:
        info = await self.principal.nc.jetstream().consumer_info(FEEDS_STREAM, self.durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    def event_ids(self) -> list[str]:
        return [r.headers["Nats-Msg-Id"].split(".", 1)[1] for r in self.got]


@dataclass
class FeedBus:
    connect: Connect
    store_path: Path
    publishers: dict[str, Principal] = field(default_factory=dict)
    feeder: Principal | None = None
    process: FeedProcess | None = None
    task: asyncio.Task | None = None
    store: FeedStore | None = None
    access_log: AccessLog | None = None
    agreement: Agreement | None = None

    async def publish(self, *envelopes: Envelope, sealed: bool = False) -> list[int]:
        """Publish as each envelope's organisation (its service login); their sequences.
        `sealed`: its personal fields sealed under the organisation's person key, created as
        its relay does (`runtime.keystore`)."""
        seqs = []
        for envelope in envelopes:
            org = envelope.source_org
            if org not in self.publishers:
                self.publishers[org] = await self.connect(org)
            js = self.publishers[org].nc.jetstream()
            if sealed:
                key = await PersonKeyStore(js).key_for(org, envelope.person_key)
                assert key is not None, f"{org} erased {envelope.person_key}"
                envelope = seal(envelope, key)
            ack = await js.publish(
                event_subject(org, envelope.type, envelope.person_key), encode(envelope),
                headers={"Nats-Msg-Id": str(envelope.event_id)},
            )
            seqs.append(ack.seq)
        return seqs

    async def start(self, agreement: Agreement, backfill: str | None = None) -> None:
        if self.feeder is None:
            self.feeder = await self.connect("feeder")
        self.store, self.agreement = FeedStore(self.store_path), agreement
        self.access_log = AccessLog(self.store_path.with_name("access-log.sqlite"))
        self.process, self.epoch = await start_feeds(
            self.feeder.nc, self.store, agreement, backfill, FAST, self.access_log
        )
        self.task = asyncio.create_task(self.process.run())

    async def stop(self) -> None:
        if self.process is not None and self.task is not None:
            self.process.stop()
            await asyncio.wait_for(self.task, 15)
            self.process = self.task = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.access_log is not None:
            self.access_log.close()
            self.access_log = None

    async def caught_up(self) -> bool:
        """The feed process decided and published everything on SEND_EVENTS so far."""
        assert self.feeder is not None and self.store is not None
        last = (await self.feeder.nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        return self.store.position() >= last and not self.store.pending(1)

    async def recipient(self, org: str) -> Recipient:
        principal = await self.connect(client_user(organisation(org)))
        return await Recipient(org, principal).open()

    async def settle(self, *recipients: Recipient) -> None:
        """Wait until the feed caught up and every recipient has taken all it was sent."""
        await eventually(self.caught_up, what="the feed process to catch up", timeout=20)
        for r in recipients:
            async def done(r: Recipient = r) -> bool:
                await r.take()
                return await r.drained()
            await eventually(done, what=f"{r.org} to take its whole feed", timeout=20)
