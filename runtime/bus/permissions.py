"""Who may do what on the bus: derived from `contracts/topology.py`, rendered as nats-server config.

One NATS user per principal, all in the server's default account (so turning authentication on
keeps the streams an unsecured server already holds):

- `<kind>-<org>`, the organisation's service: publishes `send.evt.v1.<org>.>`, subscribes
  `send.cmd.<org>.>` and answers the commands it received;
- `<kind>-<org>-client`, the organisation's own partner system: publishes `send.cmd.<org>.>`;
- `projector`: pull consumers on SEND_EVENTS (durable, or ephemeral for rebuilds), acks,
  publishes `send.dlq.>` and `projections.>`; it may delete only its own durable consumers
  (`projection-<name>`, recreated when its store and consumer disagree), never another's;
- `dashboard`: subscribes `projections.>` (the change notices) and reads SEND_EVENTS' and the
  partition mirrors' info (their last sequence, for lag) and, with partitioned projectors, the
  workers' consumer info (how many messages each has yet to apply): never a message of any
  stream. Each worker commits how far its partition is complete in the store the API reads
  (`projections.reading.partitions`), so the API needs no mirror's messages;
- `feeder`: the feed process (`projections.feeds`): a projector's reading of SEND_EVENTS (its
  own durable only) and publishing the deliveries on `send.feed.<r>.>` (SEND_FEEDS) for each
  recipient `r` the data-sharing agreement names, and no other organisation's feed; it
  creates and purges the feed keys (bucket SEND_FEED_KEYS, `write_feed_keys`: any recipient's,
  so an erasure shreds keys made under an earlier agreement too);
- `<kind>-<org>-client` also reads its own alerts and, if the agreement names it as a
  recipient, its own feed (`recipient_subjects`): durable consumers
  `<org>-feed|alerts|replay|webhook` filtered inside `send.feed.<org>.>` and
  `send.alert.<org>.>`, nothing of another organisation's. Alerts are every organisation's
  (any may own a milestone); the feed is rendered from the agreement (`feed_recipients`, the
  demo agreement's by default), so a new recipient needs the permissions rendered again. A
  recipient's client also reads its own feed keys (`read_feed_keys`: direct get by subject
  under `$KV.SEND_FEED_KEYS.<org>.>`), which open the fields its clauses open;
- `auditor`: the read-only API on both streams and SEND_FEEDS (who was sent what; batched
  direct gets: `sendx audit` reads the history as `projections.reading.direct` does) and
  ordered (ephemeral) consumers on SEND_EVENTS;
- `admin`: the JetStream API, except changing or removing what the history is kept in
  (`protected_stream_subjects`: update, delete, purge or message delete of SEND_EVENTS,
  SEND_DEADLETTER and the person-key bucket's stream) and purging the account; never events.
- `breakglass` (`breakglass_user`): the whole JetStream API, admin's denials lifted, for the
  rare authorised change of a protected stream (raising the byte ceiling, moving replicas).
  Not part of `partnership_users`: it is in no credentials file `sendx` writes and in no
  `auth.conf` by default; an operator renders it in only when needed (deploy/nats/README.md,
  "Break glass"), and every change it makes shows in the next `sendx audit chain`.
- `retrier`: `sendx deadletters` (`projections.deadletter_queue`): reads SEND_DEADLETTER, records
  retries and new letters on `send.dlq.decode.>`/`send.dlq.retried.>`, and republishes a letter
  on its original subject, so it may publish on the event subjects of every organisation of
  the partnership (a letter's original subject is one of those), and gets SEND_EVENTS messages
  one at a time (the letter's source's events about the person, to judge what it acts on), and
  nothing else of the bus: no JetStream administration, no consumers on SEND_EVENTS, no person
  keys. Why a role of its
  own rather than admin's: publishing as an organisation is the one power the trust model
  withholds from everyone else, so it is given to one audited user alone. Audited: each
  republished event carries `Sendx-Retry-Of` and `Sendx-Retried-By`, and each retry leaves a
  record on SEND_DEADLETTER; the bytes republished are the ones the organisation published
  (the retry decodes them first and refuses any whose subject names another organisation).

- `alerter`: the alert process (`projections.alerts`): creates SEND_ALERTS and publishes
  `send.alert.>` on it, hears the projectors' commit announcements (`projections.>`); it reads
  the read models from their stores, never an event from the bus.
- `deliverer`: the webhook delivery processes (`projections.delivery`): durable pull
  consumers on SEND_ALERTS and SEND_FEEDS (any of their subjects: each process filters to its
  partner's), reads the feed keys by direct get (to put a delivery's opened fields, in clear,
  in the CloudEvent posted to the entitled partner), and dead-letters what it could not
  deliver on `send.dlq.webhook.>`.
- `courier`: the API's second login, for its delivery routes only
  (`projections.serving.deliveries`: each partner's own alerts, feed and webhook dead letters
  from a cursor, the partner's API token deciding whose): reads SEND_ALERTS, SEND_FEEDS and
  SEND_DEADLETTER by direct get, nothing else. A role apart from `dashboard` so that the
  login serving the dashboard's page reads no message at all, and from `deliverer` because it
  creates no consumers and publishes nothing.

The sealing keys (bucket SEND_PERSON_KEYS, `runtime.keystore`), one per organisation and person
under `<org>.<person>`: a service may create and purge only its own organisation's keys
(`$KV.SEND_PERSON_KEYS.<org>.>`: its relay creates them and purges one on `person.erase`), so
no organisation can erase, overwrite or plant another's; it may read every key (a KV get goes
through the JetStream message-get API, which NATS cannot grant per subject). The projector and
the auditor only read them; the dashboard and partner systems cannot see them. Within its own
prefix, NATS cannot tell creating a key from purging or overwriting it (all are publishes to
the key's subject), so "create, never overwrite" for its own keys is kept by
`runtime.keystore` (expected last sequence 0), not by the server.

Every user also subscribes to its own inbox `_INBOX.<user>.>` (connect with
`inbox_prefix=_INBOX.<user>`, which `connect_bus` does): a shared `_INBOX.>` would let any
organisation read every other user's JetStream deliveries and replies. Replies to commands use
`allow_responses` rather than publish rights on `_INBOX.>`, so a service can answer requests it
was sent but cannot forge a JetStream ack into someone else's inbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from contracts.feeds import (
    ALERTS_STREAM,
    ALL_ALERTS,
    FEED_KEYS_BUCKET,
    FEED_KEYS_STREAM,
    FEED_READER,
    FEEDS_STREAM,
    org_alerts,
    org_feed,
    recipient_consumers,
    recipient_feed_keys,
)
from contracts.subjects import ALL_DEADLETTERS, DEADLETTER_ROOT, PROJECTION_ROOT
from contracts.topology import Organisation
from runtime.bus.connection import inbox_prefix_for
from runtime.bus.durables import READ_MODELS, partition_durable, projection_durable
from runtime.bus.streams import (
    DEADLETTER_STREAM,
    EVENTS_STREAM,
    PERSON_KEYS_BUCKET,
    PERSON_KEYS_STREAM,
    partitioned_stream_name,
)
from runtime.partnership import DEMO_PARTNERSHIP, load_agreement

JS_API = "$JS.API"
ALL_PROJECTION_CHANGES = f"{PROJECTION_ROOT}.>"


class Role(StrEnum):
    PROJECTOR = "projector"
    DASHBOARD = "dashboard"
    AUDITOR = "auditor"
    ADMIN = "admin"
    RETRIER = "retrier"
    ALERTER = "alerter"
    DELIVERER = "deliverer"
    COURIER = "courier"
    FEEDER = "feeder"


BREAKGLASS = "breakglass"
"""The user name of the break-glass credential (`breakglass_user`): not a `Role` on purpose."""


@dataclass(frozen=True)
class NatsUser:
    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...] = ()
    allow_responses: bool = False

    @property
    def inbox(self) -> str:
        return f"{inbox_prefix_for(self.name)}.>"


def service_user(org: Organisation) -> str:
    return f"{org.kind.value}-{org.code}"


def client_user(org: Organisation) -> str:
    return f"{service_user(org)}-client"


def read_stream(stream: str) -> tuple[str, ...]:
    """Look at a stream without consuming it: info, message by sequence, direct get."""
    return (
        f"{JS_API}.INFO",
        f"{JS_API}.STREAM.NAMES",
        f"{JS_API}.STREAM.INFO.{stream}",
        f"{JS_API}.STREAM.MSG.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}.>",
    )


def pull_from_stream(stream: str, deletable: Iterable[str] | None = None) -> tuple[str, ...]:
    """Create and inspect durable or ephemeral pull consumers, fetch, and ack; delete the
    consumers named in `deletable` (None: any)."""
    deletes = ("*",) if deletable is None else tuple(deletable)
    return (
        f"{JS_API}.CONSUMER.CREATE.{stream}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.>",
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"{JS_API}.CONSUMER.INFO.{stream}.*",
        *(f"{JS_API}.CONSUMER.DELETE.{stream}.{name}" for name in deletes),
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.>",
    )


def read_stream_info(stream: str) -> tuple[str, ...]:
    """A stream's configuration and state (first and last sequence, counts), not its messages."""
    return (f"{JS_API}.INFO", f"{JS_API}.STREAM.NAMES", f"{JS_API}.STREAM.INFO.{stream}")


PROTECTED_STREAMS = (EVENTS_STREAM, DEADLETTER_STREAM, PERSON_KEYS_STREAM)
"""What the history is kept in: the events, the dead letters, the person keys (their purge
markers are the record of erasures)."""


def protected_stream_subjects(streams: Iterable[str] = PROTECTED_STREAMS) -> tuple[str, ...]:
    """Every JetStream API call that changes how long a stream keeps its messages or removes
    them: a config update (`max_age 2s`), deleting the stream, purging it, deleting one message."""
    return tuple(
        f"{JS_API}.{action}.{stream}"
        for stream in streams
        for action in ("STREAM.UPDATE", "STREAM.DELETE", "STREAM.PURGE", "STREAM.MSG.DELETE")
    )


def own_durables() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(stream, consumer names) the projector may delete: its own durables only."""
    whole = (EVENTS_STREAM, tuple(projection_durable(name) for name in READ_MODELS))
    mirrors = tuple(
        (partitioned_stream_name(count),
         tuple(partition_durable(name, i, count) for i in range(count) for name in READ_MODELS))
        for count in PARTITION_COUNTS
    )
    return (whole, *mirrors)


def replay_stream(stream: str) -> tuple[str, ...]:
    """Ordered (ephemeral push) consumers only, as `nats stream view` uses.

    The bare create subject is the one where the server refuses a durable name, and without
    `MSG.NEXT` or `$JS.ACK` the user cannot pull from (and so steal messages of) another
    user's durable consumer.
    """
    return (f"{JS_API}.CONSUMER.CREATE.{stream}", f"$JS.FC.{stream}.>")


def read_person_keys() -> tuple[str, ...]:
    """Bind the key bucket and get a key from its leader (the bucket has no direct gets)."""
    return (
        f"{JS_API}.STREAM.INFO.{PERSON_KEYS_STREAM}",
        f"{JS_API}.STREAM.MSG.GET.{PERSON_KEYS_STREAM}",
    )


def write_person_keys(org: Organisation) -> tuple[str, ...]:
    """Read every key; create and purge the organisation's own, `<org>.<person>` (a purge is a
    publish with a rollup header on the key's subject)."""
    return (*read_person_keys(), f"$KV.{PERSON_KEYS_BUCKET}.{org.code}.>")


def recipient_subjects(org: Organisation, feed: bool = True) -> tuple[str, ...]:
    """An organisation's client reading its own alerts and (with `feed`: the agreement names it
    as a recipient) its own feed: durable pull consumers named
    `<org>-<purpose>` (`contracts.feeds.recipient_consumers`) on SEND_FEEDS and SEND_ALERTS,
    created only with a filter inside its own subjects (the filtered create API carries the
    filter in the subject, which the server checks against the request), inspected, deleted
    (to replay from another sequence or time), pulled from and acked. No stream info (a subject
    listing would show other recipients' person keys), no ephemeral or unfiltered consumers,
    no direct gets: nothing of another organisation's feed."""
    names = recipient_consumers(org.code)
    streams = ((FEEDS_STREAM, org_feed(org.code)),) if feed else ()
    return (
        f"{JS_API}.INFO",
        *(
            subject
            for stream, filter_subject in (*streams, (ALERTS_STREAM, org_alerts(org.code)))
            for name in names
            for subject in (
                f"{JS_API}.CONSUMER.CREATE.{stream}.{name}.{filter_subject}",
                f"{JS_API}.CONSUMER.INFO.{stream}.{name}",
                f"{JS_API}.CONSUMER.DELETE.{stream}.{name}",
                f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{name}",
                f"$JS.ACK.{stream}.{name}.>",
            )
        ),
    )


def read_feed_keys(org: Organisation | None = None) -> tuple[str, ...]:
    """Direct gets of the last message on a feed key's subject (`contracts.feeds.
    feed_key_request`): `org`'s own keys only (`<org>.>`, its first token being the recipient),
    or every recipient's (None: the webhook deliverer, which opens fields for each partner). No
    bucket info, no get by sequence, no consumer: nothing of another recipient's keys."""
    keys = recipient_feed_keys(org.code) if org is not None else f"$KV.{FEED_KEYS_BUCKET}.>"
    return (f"{JS_API}.DIRECT.GET.{FEED_KEYS_STREAM}.{keys}",)


def write_feed_keys() -> tuple[str, ...]:
    """The feed process: create the bucket, bind it, read, create and purge any feed key."""
    return (
        f"{JS_API}.STREAM.CREATE.{FEED_KEYS_STREAM}",
        f"{JS_API}.STREAM.INFO.{FEED_KEYS_STREAM}",
        *read_feed_keys(),
        f"$KV.{FEED_KEYS_BUCKET}.>",
    )


def organisation_users(
    org: Organisation, feed_recipients: Collection[str]
) -> tuple[NatsUser, NatsUser]:
    """The organisation's service and its client; the client reads a feed only if
    `feed_recipients` (the agreement's recipients) names the organisation."""
    service = NatsUser(
        service_user(org),
        publish=(org.event_subjects, *write_person_keys(org)),
        subscribe=(org.command_subjects,),
        allow_responses=True,
    )
    client = NatsUser(
        client_user(org),
        publish=(org.command_subjects,
                 *recipient_subjects(org, feed=org.code in feed_recipients),
                 *(read_feed_keys(org) if org.code in feed_recipients else ())),
        subscribe=(),
    )
    return service, client


def feeder_user(feed_recipients: Iterable[str]) -> NatsUser:
    """The feed process (`projections.feeds`): reads SEND_EVENTS as a projector does (its own
    durable `projection-feeds`, direct gets for the bytes it forwards, the person keys the
    shared runner loads), dead-letters what it cannot decode, keeps SEND_FEEDS declared and
    publishes deliveries on `send.feed.<r>.>` for each of `feed_recipients` (the agreement's),
    nothing on another organisation's feed. It never publishes an event."""
    return NatsUser(
        Role.FEEDER.value,
        publish=_unique(
            *read_stream(EVENTS_STREAM),
            *pull_from_stream(EVENTS_STREAM, (f"projection-{FEED_READER}",)),
            *read_person_keys(),
            ALL_DEADLETTERS,
            f"{JS_API}.STREAM.CREATE.{FEEDS_STREAM}",
            f"{JS_API}.STREAM.UPDATE.{FEEDS_STREAM}",
            *read_stream_info(FEEDS_STREAM),
            *(org_feed(code) for code in feed_recipients),
            *write_feed_keys(),
        ),
        subscribe=(),
    )


def retrier_user(partnership: Iterable[Organisation] = DEMO_PARTNERSHIP) -> NatsUser:
    """`sendx deadletters`: read letters, record retries, republish on an organisation's subject."""
    return NatsUser(
        Role.RETRIER.value,
        publish=_unique(
            *read_stream(DEADLETTER_STREAM),
            *pull_from_stream(DEADLETTER_STREAM),
            f"{DEADLETTER_ROOT}.decode.>",
            f"{DEADLETTER_ROOT}.retried.>",
            f"{JS_API}.STREAM.MSG.GET.{EVENTS_STREAM}",
            *(org.event_subjects for org in partnership),
        ),
        subscribe=(),
    )


def alerter_user() -> NatsUser:
    """The alert process: its own stream and subjects, and the projectors' doorbells."""
    return NatsUser(
        Role.ALERTER.value,
        publish=(
            f"{JS_API}.INFO", f"{JS_API}.STREAM.INFO.{ALERTS_STREAM}",
            f"{JS_API}.STREAM.CREATE.{ALERTS_STREAM}", f"{JS_API}.STREAM.UPDATE.{ALERTS_STREAM}",
            ALL_ALERTS, f"{PROJECTION_ROOT}.alerts.changed",
        ),
        subscribe=(ALL_PROJECTION_CHANGES,),
    )


def deliverer_user() -> NatsUser:
    """The webhook deliveries: pull from the partner-facing streams, dead-letter failures."""
    return NatsUser(
        Role.DELIVERER.value,
        publish=_unique(
            *read_stream_info(ALERTS_STREAM), *pull_from_stream(ALERTS_STREAM, ()),
            *read_stream_info(FEEDS_STREAM), *pull_from_stream(FEEDS_STREAM, ()),
            *read_feed_keys(),
            f"{DEADLETTER_ROOT}.webhook.>",
        ),
        subscribe=(),
    )


def courier_user() -> NatsUser:
    """The API's delivery routes: look at the partner-facing streams and the dead letters."""
    return NatsUser(
        Role.COURIER.value,
        publish=_unique(
            *read_stream(ALERTS_STREAM), *read_stream(FEEDS_STREAM),
            *read_stream(DEADLETTER_STREAM),
        ),
        subscribe=(),
    )


def dashboard_user() -> NatsUser:
    """The API serving the dashboard: change notices and stream info, never a message."""
    return NatsUser(
        Role.DASHBOARD.value,
        publish=_unique(
            *read_stream_info(EVENTS_STREAM),
            *(
                subject
                for count in PARTITION_COUNTS
                for subject in partition_progress_subjects(partitioned_stream_name(count))
            ),
        ),
        subscribe=(ALL_PROJECTION_CHANGES,),
    )


def role_user(
    role: Role, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP,
    feed_recipients: Iterable[str] | None = None,
) -> NatsUser:
    """The user of `role`; the feeder's from `feed_recipients` (None: the demo agreement's)."""
    events = EVENTS_STREAM
    if role is Role.RETRIER:
        return retrier_user(partnership)
    if role is Role.ALERTER:
        return alerter_user()
    if role is Role.DELIVERER:
        return deliverer_user()
    if role is Role.COURIER:
        return courier_user()
    if role is Role.DASHBOARD:
        return dashboard_user()
    if role is Role.FEEDER:
        return feeder_user(demo_feed_recipients() if feed_recipients is None
                           else feed_recipients)
    if role is Role.PROJECTOR:
        own = dict(own_durables())
        return NatsUser(
            role.value,
            publish=_unique(
                *read_stream(events),
                *pull_from_stream(events, own[events]),
                *(
                    subject
                    for count in PARTITION_COUNTS
                    for subject in partitioned_worker_subjects(
                        partitioned_stream_name(count), own[partitioned_stream_name(count)]
                    )
                ),
                ALL_DEADLETTERS,
                ALL_PROJECTION_CHANGES,
                *read_person_keys(),
            ),
            subscribe=(),
        )
    if role is Role.AUDITOR:
        return NatsUser(
            role.value,
            publish=(
                *read_stream(events),
                *replay_stream(events),
                *read_stream(DEADLETTER_STREAM),
                *read_stream(FEEDS_STREAM),
                *read_person_keys(),
            ),
            subscribe=(),
        )
    return NatsUser(
        role.value, publish=(f"{JS_API}.>",), subscribe=(),
        deny_publish=(*protected_stream_subjects(), f"{JS_API}.ACCOUNT.PURGE.>"),
    )


def breakglass_user() -> NatsUser:
    """The JetStream API without admin's denials: the only user that may change the retention
    of the history. Deliberately left out of `partnership_users` (see the module)."""
    return NatsUser(BREAKGLASS, publish=(f"{JS_API}.>",), subscribe=())


def _unique(*subjects: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(subjects))


PARTITION_COUNTS = (2, 3, 4)
"""How many partitioned projector workers a deployment may run (`sendx projector --partitions`)."""


def partitioned_worker_subjects(
    mirror: str, deletable: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Partition workers create or update their mirror of the history, then pull from it."""
    return (
        f"{JS_API}.STREAM.CREATE.{mirror}",
        f"{JS_API}.STREAM.UPDATE.{mirror}",
        *read_stream(mirror),
        *pull_from_stream(mirror, deletable),
    )


def partition_progress_subjects(mirror: str) -> tuple[str, ...]:
    """How far each partition's worker has got (`/api/position`, the live feed): the mirror's
    info and the workers' consumers' info, no message."""
    return (*read_stream_info(mirror), f"{JS_API}.CONSUMER.INFO.{mirror}.*")


def demo_feed_recipients() -> tuple[str, ...]:
    """The recipients of the demo agreement (`runtime.partnership.DEMO_AGREEMENT`)."""
    return load_agreement().recipients


def partnership_users(
    partnership: Iterable[Organisation] = DEMO_PARTNERSHIP,
    feed_recipients: Iterable[str] | None = None,
) -> list[NatsUser]:
    """Every user of the partnership; feeds as `feed_recipients` (an agreement's `recipients`;
    None: the demo agreement's) entitle."""
    partnership = tuple(partnership)
    recipients = tuple(demo_feed_recipients() if feed_recipients is None else feed_recipients)
    users = [user for org in partnership for user in organisation_users(org, recipients)]
    return users + [role_user(role, partnership, recipients) for role in Role]


def _subjects(subjects: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(s) for s in subjects) + "]"


def render_user(user: NatsUser, password: str) -> str:
    """One `users` entry; `password` is already config text (a quoted string or `$VAR`)."""
    publish = f"allow: {_subjects(user.publish)}"
    if user.deny_publish:
        publish += f", deny: {_subjects(user.deny_publish)}"
    lines = [
        "    {",
        f"      user: {json.dumps(user.name)}, password: {password}",
        "      permissions: {",
        f"        publish: {{ {publish} }}",
        f"        subscribe: {{ allow: {_subjects((*user.subscribe, user.inbox))} }}",
    ]
    if user.allow_responses:
        lines.append("        allow_responses: true")
    lines += ["      }", "    }"]
    return "\n".join(lines)


def render_authorization(
    users: Iterable[NatsUser], password: Callable[[NatsUser], str], header: str
) -> str:
    """A complete `authorization { users: [...] }` block, ready to `include`."""
    comment = "\n".join(f"# {line}".rstrip() for line in header.splitlines())
    entries = "\n".join(render_user(user, password(user)) for user in users)
    return f"{comment}\nauthorization {{\n  users: [\n{entries}\n  ]\n}}\n"
