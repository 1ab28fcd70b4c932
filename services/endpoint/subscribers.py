"""The command API as FastStream subscribers: what a service process runs and what the AsyncAPI
document is generated from.

`declare_command_api` declares a typed subscriber per route (and alias) of a `CommandApi`
(`services.endpoint.command_api`), each handler annotated with the route's pydantic body.
A name no route has is answered by one more subscriber (`declare_unknown_names`), on
`send.cmd.<org>.>` in a queue group of its own: it names the known commands (with no subscriber
for the name the partner would get the bare no-responders status) and stays silent on every
name a typed subscriber answers. It runs on a NATS connection of its own (`command_broker`):
a service user may only answer requests (`allow_responses`), and the server refuses the answer
to a request it delivered to two subscriptions of one connection.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

from faststream.nats import NatsBroker, NatsMessage
from faststream.nats.subscriber.usecases import CoreSubscriber

from contracts.subjects import command_subject, org_commands
from runtime.bus.connection import broker_credentials, server_urls
from services.endpoint.command_api import CommandApi, Desk, Route


def command_broker(nats_url: str, org: str, role: str) -> NatsBroker:
    """A connection of a service's command endpoint (`sendx-<org>-<role>`).

    apply_types off: the handlers validate each body with the command's own model.
    graceful_timeout off: the service drains the subscriptions itself (`drain`), so every
    command delivered is answered (FastStream's own wait drops those still queued without a
    reply); what is left for the connection's drain is a command that overran the grace: cut
    it off. Reconnects without end, as the relay's (`connect_bus`): FastStream's default gives
    up after 60 tries, and the service would then live on taking no commands at all."""
    return NatsBroker(
        server_urls(nats_url), name=f"sendx-{org}-{role}", log_level=logging.DEBUG,
        graceful_timeout=None, drain_timeout=1, max_reconnect_attempts=-1,
        reconnect_time_wait=0.5, apply_types=False, **broker_credentials(),
    )


async def drain(subscriber: CoreSubscriber) -> None:
    """Unsubscribe, then answer what was already delivered; the subscription is taken from
    FastStream, whose own stop would drop what is still queued without a reply."""
    subscription, subscriber.subscription = subscriber.subscription, None
    if subscription is not None:
        await subscription.drain()


Answer = Callable[[Route | None, str, bytes], Awaitable[bytes]]
"""Decides one request: its route (None: a name no route has), the name it came on (the route's
name or an alias) and the body as sent; returns the reply's bytes. It never raises: a refusal
is a reply."""


def declare_command_api(
    broker: NatsBroker, api: CommandApi, org: str, answer: Answer
) -> tuple[CoreSubscriber, ...]:
    """The typed subscribers of every route and alias of `api` for organisation `org`, in queue
    group `sendx-<org>`: what the service runs and what AsyncAPI documents.

    The broker must not validate bodies (`NatsBroker(apply_types=False)`): each handler's
    annotation declares the body a partner sends, for AsyncAPI, but `answer` gets the bytes as
    sent and validates them with the contract model itself, so a refusal names the field as an
    import's row report does and a body that is not JSON is told so."""
    _check_raw(broker)
    return tuple(
        _typed_subscriber(broker, api, org, route, name, answer)
        for route in api.routes
        for name in (route.name, *route.aliases)
    )


def _check_raw(broker: NatsBroker) -> None:
    if broker.config.fd_config.use_fastdepends:
        raise ValueError(
            "the command API needs NatsBroker(apply_types=False): its handlers take the body as "
            "sent and validate it with the command's own model"
        )


async def _as_sent(msg: NatsMessage) -> bytes:
    """The decoder of a typed subscriber: the body's bytes, undecoded."""
    return msg.body


async def _whole_message(msg: NatsMessage) -> NatsMessage:
    """The decoder of the unknown-names subscriber: it needs the subject and reply subject."""
    return msg


def _typed_subscriber(
    broker: NatsBroker, api: CommandApi, org: str, route: Route, name: str, answer: Answer
) -> CoreSubscriber:
    async def handle(body: bytes) -> bytes:
        return await answer(route, name, body)

    # what FastStream documents: the route's body (an operator's request has none to publish)
    handle.__annotations__ = {"body": route.body or bytes, "return": bytes}
    subscriber = broker.subscriber(
        command_subject(org, name), queue=f"sendx-{org}", decoder=_as_sent,
        title=f"{api.kind}:{name}", description=_description(api.kind, route),
        include_in_schema=route.partner_facing and name == route.name,
    )
    subscriber(handle)
    return subscriber


def declare_unknown_names(
    broker: NatsBroker, api: CommandApi, org: str, answer: Answer
) -> CoreSubscriber:
    """The subscriber answering the names of `send.cmd.<org>.>` no typed subscriber has, on a
    broker other than the typed subscribers' (its own connection, see the module's docstring).

    Every request reaches it as well as its typed subscriber (its own queue group), so it
    replies itself (`no_reply`), to names no typed subscriber has, and to nothing else."""
    _check_raw(broker)
    known, prefix = api.subjects(), org_commands(org).removesuffix(">")

    async def unknown_names(msg: NatsMessage) -> bytes | None:
        name = msg.raw_message.subject.removeprefix(prefix)
        if name in known:
            return None
        body = await answer(None, name, msg.body)
        if msg.reply_to:
            await broker.publish(body, msg.reply_to)
        return body  # what `TestNatsBroker.request` hands back

    subscriber = broker.subscriber(
        org_commands(org), queue=f"sendx-{org}-unknown", decoder=_whole_message,
        no_reply=True, include_in_schema=False,
    )
    subscriber(unknown_names)
    return subscriber


def _description(kind: str, route: Route) -> str:
    if route.reply is None:
        return route.description
    reply = f"Reply: {route.reply.__name__}, on the request's reply subject."
    if route.desk is Desk.IMPORT:
        return f"{route.description} {reply}"
    return (
        f"{inspect.cleandoc(route.description)}\n\nA {kind} service command (also accepted as "
        f"{', '.join(route.aliases) or 'no alias'}); optional `record_id` makes it idempotent. "
        f"{reply}"
    ).strip()
