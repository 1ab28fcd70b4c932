"""The per-partner feeds and alerts on the bus: the names every producer and consumer keeps.

One module, so the feed process (`projections.feeds`), the webhook deliverer and the alert
evaluator (which read the feeds), the NATS permissions and the partner documentation agree:

    stream SEND_FEEDS,  subjects send.feed.>
        send.feed.<recipient_org>.<source_org>.<family>.<name>.<person_key>
        one message per (recipient, event); the body is the event's bytes exactly as stored on
        SEND_EVENTS (sealed fields stay sealed in the body; opened ones ride in Sendx-Opened)
        headers  Nats-Msg-Id       <recipient>.<event_id>   (exactly once per recipient)
                 Sendx-Agreement   the agreement id
                 Sendx-Clause      the clause that entitles the recipient to the event
                 Sendx-Source-Seq  the event's sequence on SEND_EVENTS
                 Sendx-Opened      where the clause opens personal fields (`open_fields`) the
                                   event carries sealed: compact JSON {field: token}, each
                                   token sealed under the recipient's feed key
                                   (`contracts.sealing.seal_feed_value`); absent when nothing
                                   was opened (no such field, or the person was erased)
    key-value bucket SEND_FEED_KEYS, one 256-bit key per <recipient>.<source_org>.<person_key>
        (`contracts.sealing.feed_key_name`); the recipient's client reads its own keys only, by
        direct get of the last message on `feed_key_subject(...)`
        (`$JS.API.DIRECT.GET.KV_SEND_FEED_KEYS.$KV.SEND_FEED_KEYS.<recipient>.<source>.<person>`,
        `feed_key_request`): the body is the raw key; no message (404) once erased
    stream SEND_ALERTS, subjects send.alert.<owner_org>.>

The recipient is the third token, so a NATS permission on `send.feed.<org>.>` is the recipient's
whole feed and nothing of anyone else's. A recipient's durable consumers are named
`<org>-<purpose>` (`recipient_consumers`): the server lets its client login create, read and
pull from those names only, each filtered to its own subjects.
"""

from __future__ import annotations

from contracts.subjects import EVENT_PREFIX

FEEDS_STREAM = "SEND_FEEDS"
FEED_ROOT = "send.feed"
ALL_FEEDS = f"{FEED_ROOT}.>"
ALERTS_STREAM = "SEND_ALERTS"
ALERT_ROOT = "send.alert"
ALL_ALERTS = f"{ALERT_ROOT}.>"

FEED_READER = "feeds"
"""The feed process's name as a reader of SEND_EVENTS: its durable consumer is
`projection-feeds` (the shared runner's `projection-<name>`)."""

MSG_ID_HEADER = "Nats-Msg-Id"
AGREEMENT_HEADER = "Sendx-Agreement"
CLAUSE_HEADER = "Sendx-Clause"
SOURCE_SEQ_HEADER = "Sendx-Source-Seq"
OPENED_HEADER = "Sendx-Opened"

FEED_KEYS_BUCKET = "SEND_FEED_KEYS"
FEED_KEYS_STREAM = f"KV_{FEED_KEYS_BUCKET}"

CONSUMER_PURPOSES = ("feed", "alerts", "replay", "webhook")
"""The durable consumer names a recipient may hold: `<org>-feed` (its live feed),
`<org>-alerts`, `<org>-replay` (deleted and recreated to replay from a sequence or a time) and
`<org>-webhook` (what the webhook deliverer reads for it). NATS permissions match whole tokens,
so a prefix `<org>-*` cannot be granted: the names are listed."""


def feed_subject(recipient: str, event_subject: str) -> str:
    """`send.evt.v1.856.ehc.plan_issued.p_…` delivered to QK1 -> `send.feed.QK1.856.ehc…`."""
    prefix = f"{EVENT_PREFIX}."
    if not event_subject.startswith(prefix):
        raise ValueError(f"{event_subject!r} is not an event subject ({EVENT_PREFIX}.…)")
    return f"{FEED_ROOT}.{recipient}.{event_subject[len(prefix):]}"


def org_feed(recipient: str) -> str:
    """Everything delivered to one recipient."""
    return f"{FEED_ROOT}.{recipient}.>"


def person_feeds(person_key: str) -> str:
    """Every delivery about one person, to anyone (the person key is the last token)."""
    return f"{FEED_ROOT}.*.*.*.*.{person_key}"


def org_alerts(owner: str) -> str:
    return f"{ALERT_ROOT}.{owner}.>"


def delivery_id(recipient: str, event_id: str) -> str:
    """The `Nats-Msg-Id` of one event delivered to one recipient."""
    return f"{recipient}.{event_id}"


def feed_key_subject(recipient: str, source_org: str, person_key: str) -> str:
    """The KV subject one feed key is stored on (`contracts.sealing.feed_key_name`)."""
    return f"$KV.{FEED_KEYS_BUCKET}.{recipient}.{source_org}.{person_key}"


def recipient_feed_keys(recipient: str) -> str:
    """Every feed key of one recipient (the key name's first token is the recipient)."""
    return f"$KV.{FEED_KEYS_BUCKET}.{recipient}.>"


def feed_key_request(recipient: str, source_org: str, person_key: str) -> str:
    """The direct-get subject a recipient requests (empty body) for the last message on one
    of its feed keys: the one request its client login may make of the bucket."""
    return (f"$JS.API.DIRECT.GET.{FEED_KEYS_STREAM}."
            f"{feed_key_subject(recipient, source_org, person_key)}")


def recipient_consumers(org: str) -> tuple[str, ...]:
    return tuple(f"{org}-{purpose}" for purpose in CONSUMER_PURPOSES)
