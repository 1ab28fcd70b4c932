"""Working with SEND_DEADLETTER: list and show dead letters, count them, and retry them.

A dead letter is a message the projection could not decode (`projections.reading.dead_lettering`).
Once a contract upgrade makes it decodable (a new event type, a new schema version), an operator
retries it: the original bytes go back to the original subject, and the projection applies
them like any other event.

Why retries are recorded as they are:
- SEND_DEADLETTER is append-only history too, so a retry is recorded by appending a marker on
  `send.dlq.retried.<org>` (headers: which letter, the result, a detail) instead of deleting
  or editing the letter. A letter with a marker is "retried" and is never retried again.
- The bytes are decoded here first with the current contracts. Bytes that still fail are not
  put back on the shared history; they are dead-lettered again (a new letter saying why, with
  `Sendx-Retry-Of` naming the old one), so the reason is always the current one.
- Every publish a retry makes carries a `Nats-Msg-Id` derived from the letter's sequence, so a
  retry interrupted half way, or two operators retrying at once, store each message once
  (within the stream's duplicate window). The republished event gets its own id rather than
  the event id: the original publish of that event id may still be inside the window, and
  JetStream would drop the republished copy as a duplicate. Read models store events by
  event id, so the copy is applied once.
- Who retried is recorded (`Sendx-Retried-By`, on the republished event and on the record):
  republishing on an organisation's subject is a power only the `retrier` NATS user has
  (`runtime.bus.permissions`), so each use of it is attributable.
- Bytes that decode but fail the topology (`topology_refusal`: the subject is not exactly the
  event's own, or the claim is one its source may not make, `runtime.ownership`, the rule the
  projections apply) are refused: never republished, never
  dead-lettered again (nothing new to learn), and the refusal is recorded with who tried. The
  retrier publishes on every organisation's subjects, so this is what keeps a letter from
  turning it into a way of publishing as an organisation what that organisation may not.
- The same holds for a letter acting on a case, plan, referral or placement its source never
  opened for that person (`unopened_refusal`): it is judged as if republished now, after every
  event of its source about that person on SEND_EVENTS (read one by one, `source_history`), so
  a letter whose opening has since reached the stream (an opening held in its relay's quarantine
  and republished after a fix) is republished, and one whose opening never came is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import DecodeError, Envelope, decode
from contracts.subjects import (
    ALL_DEADLETTERS,
    DEADLETTER_ROOT,
    EVENT_PREFIX,
    deadletter_subject,
    event_subject,
)
from projections.reading.dead_lettering import (
    DECODE_STAGE,
    ERROR,
    ORIGINAL_SEQUENCE,
    ORIGINAL_STREAM,
    ORIGINAL_SUBJECT,
    REASON,
    deadletter_headers,
    source_org_of,
)
from runtime.bus.streams import DEADLETTER_STREAM, EVENTS_STREAM
from runtime.ownership import PARTNERSHIP_RULE, REFERS, OpenedReferences

RETRIED_STAGE = "retried"
RETRIED_SUBJECTS = f"{DEADLETTER_ROOT}.{RETRIED_STAGE}.>"
RETRY_OF = "Sendx-Retry-Of"
RETRY_RESULT = "Sendx-Retry-Result"
RETRY_DETAIL = "Sendx-Retry-Detail"
RETRIED_BY = "Sendx-Retried-By"

RetryResult = Literal["republished", "still_invalid", "refused"]
Row = tuple[int, datetime, str, bytes, dict]
"""(stream sequence, time stored, subject, body, headers) of one SEND_DEADLETTER message."""


class DeadLetterNotFound(LookupError):
    """No dead letter at that sequence (never stored, deleted, or a retry marker)."""


class AlreadyRetried(ValueError):
    """The letter has a retry marker: retrying it again would republish it twice."""


@dataclass(frozen=True)
class RetryMark:
    """What happened when a letter was retried (from its marker on SEND_DEADLETTER)."""

    result: RetryResult
    detail: str
    at: datetime
    marker_seq: int
    by: str = ""
    """Who retried it (`Sendx-Retried-By`: the NATS user and the operator's login)."""


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    time: datetime
    subject: str
    reason: str
    error: str
    original_subject: str
    original_stream: str
    original_sequence: int | None
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    retry_of: int | None = None
    """The letter this one is a failed retry of, if it is one."""
    retried: RetryMark | None = None

    @property
    def is_open(self) -> bool:
        return self.retried is None

    @property
    def status(self) -> str:
        if self.retried is None:
            return "open"
        by = f" by {self.retried.by}" if self.retried.by else ""
        return f"retried{by}: {self.retried.result} ({self.retried.detail})"


@dataclass(frozen=True)
class RetryOutcome:
    seq: int
    result: RetryResult
    detail: str
    republished_seq: int | None = None
    """SEND_EVENTS sequence of the republished event (result `republished`)."""
    new_letter_seq: int | None = None
    """SEND_DEADLETTER sequence of the new letter (result `still_invalid`)."""

    def __str__(self) -> str:
        return f"dead letter {self.seq}: {self.result}: {self.detail}"


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _is_marker(subject: str) -> bool:
    return subject.startswith(RETRIED_SUBJECTS[:-1])


def letter_from(seq: int, time: datetime, subject: str, data: bytes, headers: dict) -> DeadLetter:
    return DeadLetter(
        seq=seq,
        time=time,
        subject=subject,
        reason=headers.get(REASON, "unknown"),
        error=headers.get(ERROR, ""),
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        original_stream=headers.get(ORIGINAL_STREAM, EVENTS_STREAM),
        original_sequence=_int(headers.get(ORIGINAL_SEQUENCE)),
        data=data,
        headers=dict(headers),
        retry_of=_int(headers.get(RETRY_OF)),
    )


def mark_from(seq: int, time: datetime, headers: dict) -> tuple[int | None, RetryMark]:
    recorded = headers.get(RETRY_RESULT)
    result: RetryResult = recorded if recorded in ("republished", "refused") else "still_invalid"
    return _int(headers.get(RETRY_OF)), RetryMark(
        result, headers.get(RETRY_DETAIL, ""), time, seq, headers.get(RETRIED_BY, "")
    )


def collect(messages: Iterable[Row]) -> list[DeadLetter]:
    """Pure: (seq, time, subject, data, headers) of SEND_DEADLETTER -> letters with their marks."""
    letters: dict[int, DeadLetter] = {}
    marks: dict[int, RetryMark] = {}
    for seq, time, subject, data, headers in messages:
        if _is_marker(subject):
            retry_of, mark = mark_from(seq, time, headers)
            if retry_of is not None:
                marks.setdefault(retry_of, mark)
        else:
            letters[seq] = letter_from(seq, time, subject, data, headers)
    return [
        _with_mark(letter, marks.get(seq)) for seq, letter in sorted(letters.items())
    ]


def _with_mark(letter: DeadLetter, mark: RetryMark | None) -> DeadLetter:
    if mark is None:
        return letter
    return replace(letter, retried=mark)


def select(
    letters: Sequence[DeadLetter],
    *,
    reason: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
) -> list[DeadLetter]:
    chosen = [
        letter
        for letter in letters
        if (reason is None or letter.reason == reason) and (letter.is_open or not open_only)
    ]
    return chosen if limit is None else chosen[:limit]


def count_by_reason(letters: Iterable[DeadLetter], *, open_only: bool = False) -> dict[str, int]:
    """Dead letters per decode reason, for metrics (`open_only`: those still awaiting a retry)."""
    return dict(
        sorted(Counter(x.reason for x in letters if x.is_open or not open_only).items())
    )


async def _read(
    js: JetStreamContext, subject: str = ALL_DEADLETTERS, batch: int = 256
) -> list[Row]:
    """Every message of SEND_DEADLETTER on `subject`, oldest first, via an ephemeral consumer."""
    last = (await js.stream_info(DEADLETTER_STREAM)).state.last_seq
    if last == 0:
        return []
    sub = await js.pull_subscribe(
        subject,
        stream=DEADLETTER_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30,
            mem_storage=True,
        ),
    )
    rows: list[Row] = []
    try:
        pending = (await sub.consumer_info()).num_pending
        while pending:
            try:
                msgs: list[Msg] = await sub.fetch(batch, timeout=2.0)
            except TimeoutError:
                break
            for msg in msgs:
                meta = msg.metadata
                rows.append(
                    (meta.sequence.stream, meta.timestamp, msg.subject, msg.data, msg.headers or {})
                )
                pending = meta.num_pending
                if meta.sequence.stream >= last:
                    pending = 0
    finally:
        await sub.unsubscribe()
    return rows


async def dead_letters(js: JetStreamContext) -> list[DeadLetter]:
    """Every dead letter on SEND_DEADLETTER, oldest first, each with its retry mark if any."""
    return collect(await _read(js))


async def list_dead_letters(
    js: JetStreamContext,
    *,
    reason: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
) -> list[DeadLetter]:
    return select(await dead_letters(js), reason=reason, open_only=open_only, limit=limit)


async def dead_letter_counts(js: JetStreamContext, *, open_only: bool = False) -> dict[str, int]:
    """`{"bad_json": 3, "unknown_type": 1}`: for a metrics endpoint or `sendx deadletters`."""
    return count_by_reason(await dead_letters(js), open_only=open_only)


async def show_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    """The letter at `seq`, with its retry mark if it has been retried."""
    try:
        msg = await js.get_msg(DEADLETTER_STREAM, seq)
    except NotFoundError:
        raise DeadLetterNotFound(f"no dead letter at {DEADLETTER_STREAM} sequence {seq}") from None
    if _is_marker(msg.subject or ""):
        raise DeadLetterNotFound(
            f"{DEADLETTER_STREAM} sequence {seq} is the record of a retry, not a dead letter "
            f"(it retried letter {msg.headers.get(RETRY_OF) if msg.headers else '?'})"
        )
    letter = letter_from(seq, msg.time, msg.subject or "", msg.data or b"", msg.headers or {})
    for marker_seq, time, _, _, headers in await _read(js, RETRIED_SUBJECTS):
        retry_of, mark = mark_from(marker_seq, time, headers)
        if retry_of == seq:
            return _with_mark(letter, mark)
    return letter


def redecode(letter: DeadLetter) -> Envelope | DecodeError:
    """Pure: what the current contracts make of the letter's bytes on its original subject."""
    try:
        return decode(letter.data, subject=letter.original_subject)
    except DecodeError as error:
        return error


def topology_refusal(letter: DeadLetter, envelope: Envelope) -> str | None:
    """Pure: why republishing `envelope` on the letter's original subject would break the
    topology, or None: the subject must be the event's own, and the claim one its source may
    make (`runtime.ownership`, the rule the projections apply)."""
    expected = event_subject(envelope.source_org, envelope.type, envelope.person_key)
    if letter.original_subject != expected:
        return (f"original subject {letter.original_subject!r} is not the event's own "
                f"({expected!r}: source {envelope.source_org}, type {envelope.type})")
    return PARTNERSHIP_RULE.refusal(envelope)


async def source_history(js: JetStreamContext, source_org: str, person_key: str) -> list[bytes]:
    """Every event of `source_org` about `person_key` on SEND_EVENTS now, oldest first: one
    message get each (a person has few events from one source), read-only."""
    subject = f"{EVENT_PREFIX}.{source_org}.*.*.{person_key}"
    found: list[bytes] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(EVENTS_STREAM, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return found
        found.append(msg.data or b"")
        seq = (msg.seq or seq) + 1


def unopened_refusal(envelope: Envelope, history: Iterable[bytes]) -> str | None:
    """Pure: why `envelope`, published after `history` (its source's events about the person,
    in stream order), acts on something its source never opened (`runtime.ownership`), or None.
    The history is read as the chain audit reads it (leniently; a claim the rule refuses opens
    nothing)."""
    opened = OpenedReferences()
    for data in history:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            continue
        event_type, source = str(body.get("type")), str(body.get("source_org"))
        if PARTNERSHIP_RULE.claim_refusal(source, event_type, payload.get) is None:
            opened.judge(event_type, source, str(body.get("person_key")), payload.get)
    return opened.judge_envelope(envelope)


async def content_refusal(
    js: JetStreamContext, letter: DeadLetter, envelope: Envelope
) -> str | None:
    """Why the decoded letter may not go back on the stream (`topology_refusal`, then
    `unopened_refusal` against the stream as it is now), or None."""
    refused = topology_refusal(letter, envelope)
    if refused is not None or envelope.type not in REFERS:
        return refused
    history = await source_history(js, envelope.source_org, envelope.person_key)
    return unopened_refusal(envelope, history)


async def retry_dead_letter(
    js: JetStreamContext, seq: int, *, retried_by: str | None = None
) -> RetryOutcome:
    """Retry one letter; raises `AlreadyRetried` if it has a retry mark. `retried_by` is
    recorded with the retry (`Sendx-Retried-By`)."""
    letter = await show_dead_letter(js, seq)
    return await _retry(js, letter, retried_by)


async def retry_dead_letters(
    js: JetStreamContext, *, reason: str | None = None, retried_by: str | None = None
) -> list[RetryOutcome]:
    """Retry every open letter (optionally only those refused for `reason`), oldest first."""
    letters = select(await dead_letters(js), reason=reason, open_only=True)
    return [await _retry(js, letter, retried_by) for letter in letters]


async def _retry(
    js: JetStreamContext, letter: DeadLetter, retried_by: str | None = None
) -> RetryOutcome:
    if letter.retried is not None:
        raise AlreadyRetried(
            f"dead letter {letter.seq} was already retried at {letter.retried.at:%Y-%m-%d %H:%M:%S}"
            f" (record {letter.retried.marker_seq}): {letter.retried.result}, "
            f"{letter.retried.detail}"
        )
    msg_id = f"retry:{DEADLETTER_STREAM}:{letter.seq}"
    audit = {RETRIED_BY: " ".join(retried_by.split())[:200]} if retried_by else {}
    decoded = redecode(letter)
    if isinstance(decoded, DecodeError):
        headers = {
            **deadletter_headers(
                decoded,
                letter.original_subject,
                letter.original_stream,
                letter.original_sequence or 0,
            ),
            RETRY_OF: str(letter.seq),
            "Nats-Msg-Id": msg_id,
            **audit,
        }
        org = source_org_of(letter.original_subject)
        ack = await js.publish(
            deadletter_subject(DECODE_STAGE, org), letter.data,
            stream=DEADLETTER_STREAM, headers=headers,
        )
        outcome = RetryOutcome(
            letter.seq, "still_invalid",
            f"dead-lettered again as {ack.seq}: {decoded.reason}: {decoded}",
            new_letter_seq=ack.seq,
        )
    elif (refusal := await content_refusal(js, letter, decoded)) is not None:
        outcome = RetryOutcome(letter.seq, "refused", f"not republished: {refusal}")
    else:
        ack = await js.publish(
            letter.original_subject, letter.data,
            stream=letter.original_stream,
            headers={"Nats-Msg-Id": msg_id, RETRY_OF: str(letter.seq), **audit},
        )
        outcome = RetryOutcome(
            letter.seq, "republished",
            f"{decoded.type} {decoded.event_id} republished as {letter.original_stream} "
            f"sequence {ack.seq}",
            republished_seq=ack.seq,
        )
    await _mark(js, letter, outcome, audit)
    return outcome


async def _mark(
    js: JetStreamContext, letter: DeadLetter, outcome: RetryOutcome, audit: dict[str, str]
) -> None:
    await js.publish(
        deadletter_subject(RETRIED_STAGE, source_org_of(letter.original_subject)),
        b"",
        stream=DEADLETTER_STREAM,
        headers={
            RETRY_OF: str(letter.seq),
            RETRY_RESULT: outcome.result,
            RETRY_DETAIL: " ".join(outcome.detail.split())[:2000],
            "Nats-Msg-Id": f"retried:{DEADLETTER_STREAM}:{letter.seq}",
            **audit,
        },
    )
