"""The durable JetStream consumer a projection runner pulls from: its settings and creation.

The store's position, not the consumer's, is the truth: `ensure_consumer` (re)creates the
consumer to start right after the position whenever it has delivered past it (a fresh or
restored store, or a batch a crashed runner held) or was made with other settings. It acks
`AckPolicy.ALL`: the runner acks a batch by acking its last message, after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts.subjects import ALL_EVENTS
from runtime.bus.streams import EVENTS_STREAM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSettings:
    batch_size: int = 256
    """The smallest batch fetched while behind (a backlog this small is fetched whole)."""
    max_batch: int = 4096
    """The largest batch, fetched while the backlog is at least this long (catching up)."""
    fetch_timeout: float = 1.0
    """Also bounds how long `stop()` takes to take effect."""
    ack_wait: float = 30.0
    """Far above the time to apply one batch; a crashed runner's batch comes back after this."""
    max_ack_pending: int = 1024
    retry_delay: float = 1.0

    @property
    def largest_batch(self) -> int:
        return max(self.batch_size, self.max_batch)

    @property
    def ack_pending_limit(self) -> int:
        """Room for the batch being applied and the one fetched meanwhile."""
        return max(self.max_ack_pending, 2 * self.largest_batch)

    def fetch_size(self, backlog: int) -> int:
        """How many messages to ask for, given how many the consumer still has to deliver.

        0 (caught up): one, so that the fetch returns as soon as an event arrives."""
        if backlog <= 0:
            return 1
        return min(max(backlog, self.batch_size), self.largest_batch)


def consumer_config(
    durable: str, position: int, settings: ConsumerSettings, filter_subject: str = ALL_EVENTS
) -> ConsumerConfig:
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        description=f"read model {durable}: resumes after its committed stream position",
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=position + 1,
        ack_policy=AckPolicy.ALL,
        ack_wait=settings.ack_wait,
        max_ack_pending=settings.ack_pending_limit,
        max_deliver=-1,
        filter_subject=filter_subject,
    )


async def bind_consumer(
    js: JetStreamContext,
    durable: str,
    position: int,
    settings: ConsumerSettings,
    stream: str = EVENTS_STREAM,
    filter_subject: str = ALL_EVENTS,
) -> JetStreamContext.PullSubscription:
    """Bind nats-py's pull subscription to the durable consumer (see `ensure_consumer`)."""
    await ensure_consumer(js, durable, position, settings, stream, filter_subject)
    return await js.pull_subscribe_bind(durable=durable, stream=stream)


async def ensure_consumer(
    js: JetStreamContext,
    durable: str,
    position: int,
    settings: ConsumerSettings,
    stream: str = EVENTS_STREAM,
    filter_subject: str = ALL_EVENTS,
) -> int:
    """(Re)create the durable consumer if needed to start right after `position`; returns how
    many messages it has yet to deliver."""
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        info = None
    if info is not None:
        # Delivered past the store (acked or not: a crashed runner's batch): left alone, those
        # messages would come back after ack_wait, behind newer ones the store would apply first.
        delivered = info.delivered.stream_seq if info.delivered else 0
        if delivered > position or info.config.filter_subject != filter_subject:
            log.warning(
                "consumer %s has delivered up to %s but the store is at %s: recreating it",
                durable, delivered, position,
            )
            await js.delete_consumer(stream, durable)
            info = None
        elif (info.config.ack_policy != AckPolicy.ALL
              or (info.config.max_ack_pending or 0) < settings.ack_pending_limit):
            # A consumer from before batch acks (or smaller batches): the ack policy cannot be
            # updated in place, and nothing is lost by starting again after the position.
            log.info("consumer %s: recreating it to ack once per batch", durable)
            await js.delete_consumer(stream, durable)
            info = None
    if info is None:
        info = await js.add_consumer(
            stream, consumer_config(durable, position, settings, filter_subject)
        )
    return int(info.num_pending or 0)
