"""Sealing personal payload fields under a per-person, per-organisation key, so that erasure never
breaks history.

Why: the shared history is immutable (SEND_EVENTS denies deletes, and every event's bytes are
chained by `prev_hash`), yet a person may have to be erased. So the fields that describe the
person rather than the process (`Payload.personal_fields`: the birth month, a diagnosed
condition) travel encrypted under a key of that person's own, held in a key store outside the
stream (`runtime.keystore`). Erasing the person deletes the key: every copy of those fields on
the bus becomes unreadable, while the events, their clear fields (dates, organisation codes:
what the counts need) and the hash chains over their bytes stay exactly as they were
("crypto-shredding"). Each organisation seals under a key of its own for the person
(`key_name`: `<org>.<person>`), so an organisation erases what it published and nothing of
anyone else's.

How: AES-256-GCM (pycryptodome) over the field's JSON value. The associated data binds the
ciphertext to the event id, person key, event type and field name, so a sealed value cannot be
moved to another event or person without failing authentication. The 96-bit nonce is derived
(HMAC-SHA-256 of the event id and field name under the person's key) rather than random: a relay
that republishes after a crash must produce the same bytes, or its hash chain would name bytes
the stream's duplicate window discarded. A nonce repeats only for the same event and field,
whose plaintext is always the same (translation is a pure function of the stored event), so
GCM's nonce rule holds. On the wire: `"sealed": {"birth_month": "<base64url>"}` with the field
absent from the payload; once erased, a decoded envelope lists it in `erased` and it reads null.

The personal fields (each model's `personal_fields`; current versions):

| event | field | why personal |
|---|---|---|
| `person.registered` v2 | `birth_month` | with the pseudonym, the nearest thing to an identifier |
| `health.diagnosis_recorded` v3 | `condition` | a health fact about the person (autism, ADHD, LD) |

Kept in clear, because the shared counts are made of them and they describe the process rather
than the person: dates, organisation and LA codes, local references, pathways, EHC primary need
(SEN2 counts plans by need), placements, decisions and outcomes. Events published before v2/v3
(birth month and condition in clear) cannot be unpublished from the immutable stream; read models
still forget them for an erased person (`forget_erased`).

Feeds (`contracts.feeds`, README "Agreements and feeds"): no partner may read a source's key,
so where an agreement clause opens a field (`Clause.open_fields`) the feed process opens it and
seals it again under a key of the recipient's own for that source and person
(`feed_key_name`, `reseal_for_feed`), its associated data binding the recipient too; a
recipient reads it with `open_feed_fields`. Either side's erasure deletes that feed key, so
every opened copy on SEND_FEEDS is shredded with the original.

Pure: no I/O, no key store. `contracts.decode(..., keys=...)` opens sealed fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from Crypto.Cipher import AES

from contracts.envelope import Envelope, Payload

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ERASURE_TYPE = "person.erased"


class SealError(ValueError):
    """A sealed value is malformed or does not authenticate under the person's key."""


def personal_fields(payload: Payload | type[Payload]) -> tuple[str, ...]:
    model = payload if isinstance(payload, type) else type(payload)
    return model.personal_fields


def _associated_data(event_id: str, person_key: str, event_type: str, field: str) -> bytes:
    return f"send-exchange/sealed/v1|{event_id}|{person_key}|{event_type}|{field}".encode()


def _nonce(key: bytes, event_id: str, field: str) -> bytes:
    return hmac.new(key, f"{event_id}|{field}".encode(), hashlib.sha256).digest()[:NONCE_BYTES]


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise SealError(f"a person key is {KEY_BYTES} bytes (AES-256), got {len(key)}")


def seal_value(
    key: bytes, value: Any, *, event_id: str, person_key: str, event_type: str, field: str
) -> str:
    """The JSON `value` of one field, encrypted and authenticated: base64url(nonce+ct+tag)."""
    return _encrypt(key, value, _nonce(key, event_id, field),
                    _associated_data(event_id, person_key, event_type, field))


def _encrypt(key: bytes, value: Any, nonce: bytes, associated: bytes) -> str:
    _check_key(key)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(associated)
    ciphertext, tag = cipher.encrypt_and_digest(orjson.dumps(value))
    return base64.urlsafe_b64encode(nonce + ciphertext + tag).decode("ascii")


def open_value(
    key: bytes, token: str, *, event_id: str, person_key: str, event_type: str, field: str
) -> Any:
    """The JSON value sealed in `token`; `SealError` if it was altered or sealed elsewhere."""
    return _decrypt(key, token, field, _associated_data(event_id, person_key, event_type, field))


def _decrypt(key: bytes, token: str, field: str, associated: bytes) -> Any:
    _check_key(key)
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SealError(f"sealed {field} is not base64url") from None
    if len(raw) <= NONCE_BYTES + TAG_BYTES:
        raise SealError(f"sealed {field} is too short to hold a nonce, a value and a tag")
    nonce, ciphertext, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(associated)
    try:
        plain = cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        raise SealError(
            f"sealed {field} does not authenticate under this key (altered, or sealed "
            "for another event, person, field or recipient)"
        ) from None
    return orjson.loads(plain)


def seal(envelope: Envelope, key: bytes) -> Envelope:
    """The envelope with its personal fields moved from the payload into `sealed`."""
    payload = envelope.payload
    present = [f for f in personal_fields(payload) if getattr(payload, f) is not None]
    if not present:
        return envelope
    values = payload.model_dump(mode="json", include=set(present))
    sealed = {
        f: seal_value(
            key, values[f], event_id=str(envelope.event_id), person_key=envelope.person_key,
            event_type=envelope.type, field=f,
        )
        for f in present
    }
    cleared = payload.model_copy(update=dict.fromkeys(present))
    return envelope.model_copy(update={"payload": cleared, "sealed": sealed})


def withhold(envelope: Envelope) -> Envelope:
    """The envelope with every personal field gone and listed as erased (no key: none left)."""
    fields = personal_fields(envelope.payload)
    if not fields:
        return envelope
    had = {f for f in fields if getattr(envelope.payload, f) is not None}
    sealed, erased = envelope.sealed or {}, envelope.erased or ()
    if not had and not sealed:
        return envelope  # nothing readable left (already erased, or an optional field unset)
    gone = tuple(f for f in fields if f in had or f in sealed or f in erased)
    cleared = envelope.payload.model_copy(update=dict.fromkeys(fields))
    return envelope.model_copy(update={"payload": cleared, "sealed": None, "erased": gone})


def key_name(source_org: str, person_key: str) -> str:
    """The name of the key `source_org` seals `person_key`'s fields under: `<org>.<person>`.

    Per organisation, because each organisation is controller of what it shares: erasing a
    person deletes the erasing organisation's key only, and NATS permissions let a service
    create and purge keys under its own prefix only (`runtime.bus.permissions`)."""
    return f"{source_org}.{person_key}"


def feed_key_name(recipient: str, source_org: str, person_key: str) -> str:
    """The key a feed re-seals `source_org`'s fields about `person_key` under for `recipient`:
    `<recipient>.<source>.<person>` (bucket SEND_FEED_KEYS, `runtime.feedkeys`).

    Recipient first, so a NATS permission on `<recipient>.>` is exactly the recipient's own
    keys; per source and person, so either side's erasure deletes only what it concerns."""
    return f"{recipient}.{source_org}.{person_key}"


def _feed_associated_data(
    recipient: str, event_id: str, person_key: str, event_type: str, field: str
) -> bytes:
    return (f"send-exchange/feed/v1|{recipient}|{event_id}|{person_key}|{event_type}|{field}"
            .encode())


def seal_feed_value(
    feed_key: bytes, value: Any, *, recipient: str, event_id: str, person_key: str,
    event_type: str, field: str,
) -> str:
    """A field opened for one recipient, sealed under its feed key (`feed_key_name`).

    As `seal_value`, and the associated data also binds the recipient, so a token cannot be
    replayed into another recipient's feed; the nonce is derived the same way, so a feed
    republished after a crash carries the same bytes."""
    return _encrypt(feed_key, value, _nonce(feed_key, event_id, field),
                    _feed_associated_data(recipient, event_id, person_key, event_type, field))


def open_feed_value(
    feed_key: bytes, token: str, *, recipient: str, event_id: str, person_key: str,
    event_type: str, field: str,
) -> Any:
    """The value `seal_feed_value` sealed; `SealError` if altered or sealed for another."""
    return _decrypt(feed_key, token, field,
                    _feed_associated_data(recipient, event_id, person_key, event_type, field))


def reseal_for_feed(
    event: Mapping[str, Any], fields: Iterable[str], person_key: bytes, feed_key: bytes,
    recipient: str,
) -> dict[str, str]:
    """{field: token}: each of `fields` the stored `event` (its wire JSON) carries sealed,
    opened with the source's `person_key` and sealed again under the recipient's `feed_key`.
    Fields the event does not carry sealed are left out (in clear in an old version, unset)."""
    sealed = event.get("sealed") or {}
    about = {"event_id": str(event["event_id"]), "person_key": str(event["person_key"]),
             "event_type": str(event["type"])}
    return {
        field: seal_feed_value(
            feed_key, open_value(person_key, sealed[field], field=field, **about),
            recipient=recipient, field=field, **about,
        )
        for field in fields if field in sealed
    }


def open_feed_fields(
    event: Mapping[str, Any], opened: Mapping[str, str], feed_key: bytes, recipient: str
) -> dict[str, Any]:
    """What a recipient reads of a feed message: {field: value} of its `Sendx-Opened` header
    (`opened`, parsed from JSON), with the event (the body, parsed) and its own feed key.

    The helper partners follow (README "Agreements and feeds"); `SealError` if a token was
    altered or sealed for another event, person, field or recipient."""
    about = {"event_id": str(event["event_id"]), "person_key": str(event["person_key"]),
             "event_type": str(event["type"])}
    return {
        field: open_feed_value(feed_key, token, recipient=recipient, field=field, **about)
        for field, token in opened.items()
    }


def erasures(history: Iterable[Envelope]) -> set[tuple[str, str]]:
    """(organisation, person key) of every `person.erased`: whose fields are gone, from whom."""
    return {(e.source_org, e.person_key) for e in history if e.type == ERASURE_TYPE}


def erased_people(history: Iterable[Envelope]) -> set[str]:
    """The people some organisation erased (their other sources' fields may remain)."""
    return {person for _, person in erasures(history)}


def forget_erased(history: Iterable[Envelope]) -> list[Envelope]:
    """A history in which every event an organisation published about a person it then erased
    has its personal fields withheld; other organisations' events about them are untouched.

    What a replay without the erasing organisation's key shows, applied to what a live read
    model decoded with it (and to v1 events published in clear before sealing existed), so live
    and rebuilt read models agree after an erasure.
    """
    events = list(history)
    erased = erasures(events)
    return [withhold(e) if (e.source_org, e.person_key) in erased else e for e in events]


def reveal(
    raw_payload: Mapping[str, Any],
    sealed: Mapping[str, str],
    key: bytes,
    *,
    event_id: str,
    person_key: str,
    event_type: str,
) -> dict[str, Any]:
    """The payload dict with each sealed field opened and put back in place."""
    opened = dict(raw_payload)
    for field, token in sealed.items():
        opened[field] = open_value(
            key, token, event_id=event_id, person_key=person_key, event_type=event_type,
            field=field,
        )
    return opened
