"""The feed process: the shared runner folds SEND_EVENTS into the feed store, the publisher
sends what it decided to SEND_FEEDS. `sendx feeds` runs it; `sendx run` starts it.

The runner is `projections.reading.runner.ProjectionRunner` (durable consumer `projection-feeds`,
batches, ack after commit, dead letters), so the feed reads the history exactly as every read
model does; after each commit the publisher is woken, so a delivery leaves within one commit.
A batch holding a `person.erased` first purges the feed keys it shreds (`runtime.feedkeys`),
then commits: a crash in between purges them again, so no erasure is passed over.

A changed agreement file is adopted while the process runs (`AgreementWatcher`: on SIGHUP and
whenever the file's digest changes, polled every `SENDX_FEEDS_AGREEMENT_INTERVAL` seconds):
checked again, and if valid adopted by the store at the feed's committed position, between two
batches (never mid-batch: `FeedProcess.adopt` waits for the batch being applied). An invalid one
is refused, naming every problem, and the agreement in effect stays. The NATS permissions are
not the feed process's to change: a new recipient's feed can be published and read only once
they are rendered again from the new agreement and nats-server reloaded (the change line says
so; `sendx run` does it for its own server).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import sys
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts.agreements import Agreement, AgreementError
from contracts.feeds import FEED_READER
from contracts.sealing import ERASURE_TYPE
from contracts.subjects import parse_event_subject
from contracts.topology import Organisation
from projections.access.log import AccessLog
from projections.feeds.publisher import FeedPublisher
from projections.feeds.store import Epoch, FeedStore
from projections.reading.applying import Summary
from projections.reading.batch import stream_seq
from projections.reading.consumer import ConsumerSettings
from projections.reading.runner import ProjectionRunner
from runtime.bus.connection import connect_bus
from runtime.bus.streams import EVENTS_STREAM, ensure_feed_keys, ensure_stream, feeds_stream
from runtime.feedkeys import FeedKeyStore, erased_feed_keys
from runtime.health import metrics_port, start_monitoring, stop_monitoring
from runtime.metrics import projector_monitor
from runtime.partnership import DEMO_AGREEMENT, DEMO_PARTNERSHIP, load_agreement
from runtime.settings import settings

log = logging.getLogger(__name__)

DEFAULT_AGREEMENT = DEMO_AGREEMENT
"""`sendx feeds --agreement`'s default: the demo partnership's (`runtime.partnership`)."""


def shredded_keys(subjects: list[str], partnership: tuple[Organisation, ...]) -> list[str]:
    """The feed keys the `person.erased` events among `subjects` purge. Pure."""
    names = []
    for subject in subjects:
        try:
            about = parse_event_subject(subject)
        except ValueError:
            continue  # not an event subject: the runner dead-letters it
        if about.event_type == ERASURE_TYPE:
            names += erased_feed_keys(about.source_org, about.person_key, partnership)
    return names


class FeedRunner(ProjectionRunner):
    """The shared runner, handing each batch's stored bytes to the publisher before applying
    it (what a delivery forwards is then usually in memory, not read back from the stream),
    and purging the feed keys of each erasure before the batch is committed."""

    def __init__(
        self, *args: object, bodies: dict[int, bytes], between_batches: asyncio.Lock,
        feed_keys: FeedKeyStore, partnership: tuple[Organisation, ...], **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._bodies = bodies
        self._between_batches = between_batches
        self._feed_keys, self._partnership = feed_keys, partnership

    async def _apply(self, msgs: list[Msg]) -> None:
        """One batch, holding `between_batches`: an agreement change waits for it to end."""
        async with self._between_batches:
            for msg in msgs:
                self._bodies[stream_seq(msg)] = msg.data
            shredded = shredded_keys([msg.subject for msg in msgs], self._partnership)
            if shredded:
                await self._feed_keys.erase(shredded)
            await super()._apply(msgs)


class FeedProcess:
    """One runner and one publisher over one store, until `stop()`."""

    def __init__(
        self, nc: Client, store: FeedStore, settings: ConsumerSettings | None = None,
        access_log: AccessLog | None = None, agreement: Agreement | None = None,
        partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP,
    ) -> None:
        self.store = store
        self._between_batches = asyncio.Lock()
        self.publisher = FeedPublisher(nc, store, access_log=access_log, agreement=agreement)
        self.runner = FeedRunner(nc, FEED_READER, store, settings, on_commit=self._committed,
                                 bodies=self.publisher.bodies,
                                 between_batches=self._between_batches,
                                 feed_keys=FeedKeyStore(nc.jetstream()),
                                 partnership=partnership)

    async def adopt(self, agreement: Agreement) -> Epoch:
        """Adopt a changed `agreement` at the committed position, between two batches; the
        publisher opens what its clauses open from then on."""
        async with self._between_batches:
            epoch = await asyncio.to_thread(
                lambda: self.store.adopt(agreement, self.store.position()))
            self.publisher.use(agreement)
            return epoch

    async def _committed(self, summary: Summary, previous: int, position: int) -> None:
        self.publisher.wake()

    def stop(self) -> None:
        self.runner.stop()
        self.publisher.stop()

    async def run(self) -> None:
        await asyncio.gather(self.runner.run(), self.publisher.run())


async def start_feeds(
    nc: Client, store: FeedStore, agreement: Agreement, backfill: str | None = None,
    settings: ConsumerSettings | None = None, access_log: AccessLog | None = None,
) -> tuple[FeedProcess, Epoch]:
    """Create SEND_FEEDS and SEND_FEED_KEYS if missing, adopt the agreement from its recorded
    point."""
    js = nc.jetstream()
    await ensure_stream(js, feeds_stream())
    await ensure_feed_keys(js)
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    epoch = await asyncio.to_thread(store.adopt, agreement, last, backfill)
    return FeedProcess(nc, store, settings, access_log, agreement), epoch


def file_digest(path: Path) -> str | None:
    """SHA-256 of the file's bytes; None if it cannot be read (then a check says why)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def in_effect_line(epoch: Epoch, agreement: Agreement) -> str:
    """`feeds: agreement <id> (<digest>) in effect after stream sequence <n>`: printed at start
    and on every change (`sendx run` waits for it)."""
    return (f"feeds: agreement {epoch.agreement_id} ({epoch.digest[:12]}) in effect after "
            f"stream sequence {epoch.effective_after}"
            + (f", backfill: {epoch.backfill_reason}" if epoch.backfill_reason else "")
            + f"; recipients {', '.join(agreement.recipients) or 'none'}")


class AgreementWatcher:
    """Adopts a changed agreement file while the feed process runs: at once on `check_now()`
    (SIGHUP), and whenever the file's digest changed (checked every `interval` seconds)."""

    def __init__(
        self, path: Path, process: FeedProcess, agreement: Agreement, interval: float,
        partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP,
    ) -> None:
        self.path, self.agreement = path, agreement
        self._process, self._interval, self._partnership = process, interval, partnership
        self._seen: str | None = None
        """Digest of the bytes last checked (None: check at the first tick, in case the file
        changed since it was read at start)."""
        self._asked = asyncio.Event()
        self._stopping = asyncio.Event()

    def check_now(self) -> None:
        self._asked.set()

    def stop(self) -> None:
        self._stopping.set()
        self._asked.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._asked.wait(), self._interval)
            except TimeoutError:
                pass
            if self._stopping.is_set():
                return
            asked = self._asked.is_set()
            self._asked.clear()
            await self.check(asked)

    async def check(self, asked: bool = False) -> Epoch | None:
        """Adopt the file's agreement if it changed and is valid; the new epoch, else None."""
        digest = await asyncio.to_thread(file_digest, self.path)
        if digest == self._seen and not asked:
            return None
        self._seen = digest
        try:
            agreement = await asyncio.to_thread(load_agreement, self.path, self._partnership)
        except AgreementError as exc:
            print(f"feeds: agreement change refused, {self.agreement.id} "
                  f"({self.agreement.digest[:12]}) stays in effect: {exc}",
                  file=sys.stderr, flush=True)
            return None
        if agreement.digest == self.agreement.digest:
            if asked:
                print(f"feeds: agreement {agreement.id} ({agreement.digest[:12]}) unchanged",
                      flush=True)
            return None
        before, self.agreement = self.agreement, agreement
        epoch = await self._process.adopt(agreement)
        print(in_effect_line(epoch, agreement) + f", replacing {before.id} "
              f"({before.digest[:12]})" + permissions_note(before, agreement), flush=True)
        return epoch


def permissions_note(before: Agreement, after: Agreement) -> str:
    """What the NATS permissions, rendered from the agreement, need after a change."""
    added = [r for r in after.recipients if r not in before.recipients]
    removed = [r for r in before.recipients if r not in after.recipients]
    note = ""
    if added:
        note += (f"; new recipient(s) {', '.join(added)}: render the NATS permissions from this "
                 "agreement and reload nats-server (`sendx deploy nats-config --agreement FILE`, "
                 "then SIGHUP; `sendx run` does both for its own server) before their feed can "
                 "be published or read; until then their deliveries wait")
    if removed:
        note += (f"; {', '.join(removed)} no longer receive(s) a feed: their feed permissions "
                 "stay until the NATS permissions are rendered again")
    return note


async def run_feeds(
    nats_url: str, store_path: Path, agreement_path: Path, backfill: str | None = None,
    access_log_path: Path | None = None,
) -> None:
    """`sendx feeds`: until SIGINT/SIGTERM, adopting a changed agreement file (SIGHUP: check it
    now); each delivery round in the access log if given."""
    agreement = load_agreement(agreement_path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store = FeedStore(store_path)
    access_log = None
    if access_log_path is not None:
        access_log_path.parent.mkdir(parents=True, exist_ok=True)
        access_log = AccessLog(access_log_path)
    nc = await connect_bus(nats_url, name="sendx-feeds")
    try:
        process, epoch = await start_feeds(nc, store, agreement, backfill,
                                           access_log=access_log)
        print(in_effect_line(epoch, agreement) + f"; store {store_path}", flush=True)
        watcher = AgreementWatcher(agreement_path, process, agreement,
                                   settings().feeds_agreement_interval)

        def stop() -> None:
            process.stop()
            watcher.stop()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        loop.add_signal_handler(signal.SIGHUP, watcher.check_now)
        monitor = projector_monitor(nc, {FEED_READER: process.runner}, {FEED_READER: store})
        monitoring = await start_monitoring(monitor, metrics_port(None))
        try:
            await asyncio.gather(process.run(), watcher.run())
        finally:
            await stop_monitoring(monitoring)
    finally:
        store.close()
        if access_log is not None:
            access_log.close()
        await nc.drain()
