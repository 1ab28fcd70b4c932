"""The feed process: the shared runner folds SEND_EVENTS into the feed store, the publisher
sends what it decided to SEND_FEEDS. `sendx feeds` runs it; `sendx run` starts it.

The runner is `projections.reading.runner.ProjectionRunner` (durable consumer `projection-feeds`,
batches, ack after commit, dead letters), so the feed reads the history exactly as every read
model does; after each commit the publisher is woken, so a delivery leaves within one commit.
A batch holding a `person.erased` first purges the feed keys it shreds (`runtime.feedkeys`),
then commits: a crash in between purges them again, so no erasure is passed over.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg

from contracts.agreements import Agreement, AgreementError, check, parse_agreement
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
from runtime.partnership import DEMO_PARTNERSHIP

log = logging.getLogger(__name__)

DEFAULT_AGREEMENT = Path(__file__).resolve().parents[2] / "deploy" / "sharing" / "agreements.toml"


def load_agreement(
    path: Path, partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP
) -> Agreement:
    """The agreement at `path`, refused (naming every problem) unless `check` passes."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AgreementError(f"cannot read the agreement {path}: {exc.strerror}") from None
    agreement = parse_agreement(text, str(path))
    problems = check(agreement, partnership)
    if problems:
        raise AgreementError(f"{path}: " + "; ".join(problems))
    return agreement


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
        self, *args: object, bodies: dict[int, bytes], feed_keys: FeedKeyStore,
        partnership: tuple[Organisation, ...], **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._bodies = bodies
        self._feed_keys, self._partnership = feed_keys, partnership

    async def _apply(self, msgs: list[Msg]) -> None:
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
        self.publisher = FeedPublisher(nc, store, access_log=access_log, agreement=agreement)
        self.runner = FeedRunner(nc, FEED_READER, store, settings, on_commit=self._committed,
                                 bodies=self.publisher.bodies,
                                 feed_keys=FeedKeyStore(nc.jetstream()),
                                 partnership=partnership)

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


async def run_feeds(
    nats_url: str, store_path: Path, agreement_path: Path, backfill: str | None = None,
    access_log_path: Path | None = None,
) -> None:
    """`sendx feeds`: until SIGINT/SIGTERM; each delivery round in the access log if given."""
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
        print(f"feeds: agreement {epoch.agreement_id} ({epoch.digest[:12]}) in effect after "
              f"stream sequence {epoch.effective_after}"
              + (f", backfill: {epoch.backfill_reason}" if epoch.backfill_reason else "")
              + f"; recipients {', '.join(agreement.recipients)}; store {store_path}",
              flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, process.stop)
        monitor = projector_monitor(nc, {FEED_READER: process.runner}, {FEED_READER: store})
        monitoring = await start_monitoring(monitor, metrics_port(None))
        try:
            await process.run()
        finally:
            await stop_monitoring(monitoring)
    finally:
        store.close()
        if access_log is not None:
            access_log.close()
        await nc.drain()
