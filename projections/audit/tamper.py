"""Tamper evidence: check every source's hash chain over the whole stream and name what is wrong.

Each relay sets `prev_hash` to the SHA-256 of the encoded bytes of its previous published event
(`contracts.chain`), so every event vouches for the exact bytes of the one before it. Reading a
source's events in stream order, each event either names the hash of its predecessor on the
stream (a link) or it does not (a break). The shape around a break tells what happened:

| what the auditor sees | verdict |
|---|---|
| E is stored twice with the same bytes | `duplicate` (the dedupe window was bypassed) |
| nobody links to E, and the next event links to an earlier one | `forged`: E was inserted |
| E claims a source position another event already holds | `forged` |
| E claims to start the chain (no `prev_hash`) after the chain began | `forged` |
| E's body claims a different source than its subject | `forged` |
| E comes before an event already stored (lower position), its links intact | `reordered` |
| nobody links to E; the next event, one position on, names an unknown hash | `altered` |
| the same, with a gap in source positions | `missing`: events between were dropped |
| the source's first event on the stream names a predecessor | `missing`: its start is gone |
| stream sequences skipped | `deleted` from the stream itself |
| E is a claim its source may not make (`runtime.ownership`) | `not_permitted`, set aside |

Source positions are the source's notification ids, and a source may store events it does not
share, so a gap alone is not evidence; it only separates "altered" from "missing" once the
chain has already broken. A chain proves order and integrity relative to an anchor: a forger
who rewrites a source's whole chain from some point on is caught by comparing the chain head
(`ChainHead`) with the hash the source's relay recorded in its own store
(`services.sharing.checkpoint`).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from nats.aio.client import Client

from contracts.chain import bytes_hash
from projections.audit.checkpoint import Checkpoint, Snapshot, history_findings, snapshot
from projections.audit.findings import TamperFinding, TamperKind
from projections.audit.stream import StoredMessage, read_stream
from runtime.ownership import PARTNERSHIP_RULE, OpenedReferences


@dataclass(frozen=True, slots=True)
class Link:
    """What the chain check needs from one stored message (not the bytes: memory stays small)."""

    seq: int
    source_org: str
    source_position: int | None
    event_id: str | None
    prev_hash: str | None
    hash: str
    subject_org: str
    refused: str | None = None
    """Why the partnership's ownership rule refuses the event (`runtime.ownership`), if it
    does: a claim its source may not make, published with the source's own login."""


@dataclass(frozen=True)
class ChainHead:
    """A source's last genuine event on the stream (forgeries and duplicates set aside):
    compare `hash` with the last hash the source's relay recorded in its own checkpoint."""

    source_org: str
    events: int
    source_position: int | None
    stream_seq: int
    hash: str


def link_of(message: StoredMessage, opened: OpenedReferences | None = None) -> Link:
    """Read the chain fields leniently: an altered body may no longer be a valid envelope.

    `opened`, kept by the caller across the stream read in order, is what was opened so far:
    given it, an event acting on a case, plan, referral or placement its source never opened is
    refused as the projections refuse it (`runtime.ownership.OpenedReferences`)."""
    parts = message.subject.split(".")
    subject_org = parts[3] if len(parts) == 7 else "unknown"
    try:
        body = orjson.loads(message.data)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        body = {}
    position = body.get("source_position")
    prev_hash = body.get("prev_hash")
    event_id = body.get("event_id")
    source_org = sys.intern(str(body.get("source_org") or subject_org))
    payload = body.get("payload")
    fields = payload.get if isinstance(payload, dict) else lambda _: None
    event_type, person_key = str(body.get("type")), str(body.get("person_key"))
    refused = PARTNERSHIP_RULE.claim_refusal(source_org, event_type, fields)
    if refused is None and opened is not None:
        refused = opened.judge(event_type, source_org, person_key, fields)
    return Link(
        seq=message.seq,
        source_org=source_org,
        source_position=position if isinstance(position, int) else None,
        event_id=str(event_id) if event_id is not None else None,
        prev_hash=prev_hash if isinstance(prev_hash, str) else None,
        hash=bytes_hash(message.data),
        subject_org=sys.intern(subject_org),
        refused=refused,
    )


def _finding(kind: TamperKind, link: Link, detail: str) -> TamperFinding:
    return TamperFinding(kind, link.source_org, link.source_position, link.seq, link.event_id,
                         detail)


class _SourceChain:
    """One source's links in stream order, with the indexes the verdicts need."""

    def __init__(self, links: Sequence[Link]) -> None:
        self.links = links
        self.by_hash: dict[str, int] = {}
        for i, link in enumerate(links):
            self.by_hash.setdefault(link.hash, i)
        self.linked = {self.by_hash[lk.prev_hash] for lk in links if lk.prev_hash in self.by_hash}

    def predecessor(self, i: int) -> int | None:
        prev_hash = self.links[i].prev_hash
        return None if prev_hash is None else self.by_hash.get(prev_hash)


def source_findings(links: Sequence[Link]) -> list[TamperFinding]:
    """Verdicts for one source's links in stream order: at most one per message."""
    links, findings = _without_duplicates(links)
    chain = _SourceChain(links)
    seen_ids: dict[str, Link] = {}
    held: dict[int, Link] = {}
    highest: Link | None = None
    for i, link in enumerate(links):
        verdict = _verdict(chain, i, seen_ids, held, highest)
        if verdict is not None:
            findings.append(verdict)
        if link.event_id is not None:
            seen_ids.setdefault(link.event_id, link)
        if verdict is None or verdict.kind != "forged":
            if link.source_position is not None:
                held.setdefault(link.source_position, link)
                if highest is None or link.source_position > (highest.source_position or 0):
                    highest = link
    if links and links[0].prev_hash is not None and chain.predecessor(0) is None:
        findings.append(_finding("missing", links[0], (
            f"the source's chain does not start on the stream: its first event names a "
            f"predecessor (hash {links[0].prev_hash[:12]}…) that is not on the stream"
        )))
    return sorted(findings, key=lambda f: f.stream_seq or 0)


def _without_duplicates(links: Sequence[Link]) -> tuple[list[Link], list[TamperFinding]]:
    """Set aside exact copies of an earlier message: a copy is noise, not part of the chain."""
    first_at: dict[str, Link] = {}
    kept: list[Link] = []
    duplicates: list[TamperFinding] = []
    for link in links:
        earlier = first_at.setdefault(link.hash, link)
        if earlier is link:
            kept.append(link)
        else:
            duplicates.append(_finding(
                "duplicate", link, f"stored twice (first at stream sequence {earlier.seq})"
            ))
    return kept, duplicates


def _verdict(
    chain: _SourceChain,
    i: int,
    seen_ids: dict[str, Link],
    held: dict[int, Link],
    highest: Link | None,
) -> TamperFinding | None:
    link = chain.links[i]
    earlier = seen_ids.get(link.event_id or "")
    if earlier is not None:
        return _finding("forged", link, (
            f"reuses the event id of stream sequence {earlier.seq} with different content"
        ))
    if link.source_org != link.subject_org:
        return _finding("forged", link, (
            f"published on organisation {link.subject_org}'s subject but claims source "
            f"{link.source_org}"
        ))
    is_last = i == len(chain.links) - 1
    if not is_last and i not in chain.linked:
        verdict = _unlinked(chain, i, held)
        if verdict is not None:
            return verdict
    if i > 0 and link.prev_hash is None:
        return _finding("forged", link, (
            f"claims to start the source's chain (no prev_hash), but the chain began at stream "
            f"sequence {chain.links[0].seq}"
        ))
    position = link.source_position
    if position is not None and position in held:
        other = held[position]
        return _finding("forged", link, (
            f"claims source position {position}, which event {other.event_id} at stream "
            f"sequence {other.seq} already holds"
        ))
    if highest is not None and position is not None and position < (highest.source_position or 0):
        return _finding("reordered", link, (
            f"stored after source position {highest.source_position} (stream sequence "
            f"{highest.seq}) although it comes before it in the source's log"
        ))
    return None


def _unlinked(chain: _SourceChain, i: int, held: dict[int, Link]) -> TamperFinding | None:
    """Nobody names event i as their predecessor, yet events follow it: which story fits?"""
    link, after = chain.links[i], chain.links[i + 1]
    bypass = chain.predecessor(i + 1)
    if bypass is not None and bypass != i:
        claim = ""
        if link.source_position in held:
            other = held[link.source_position]  # type: ignore[index]
            claim = (
                f"; it claims source position {link.source_position}, held by event "
                f"{other.event_id}"
            )
        return _finding("forged", link, (
            f"not part of the source's chain: the next event (position {after.source_position}, "
            f"stream sequence {after.seq}) names stream sequence {chain.links[bypass].seq} as "
            f"its predecessor{claim}"
        ))
    if after.prev_hash is None or bypass is not None:
        return None
    if (link.source_position is not None and after.source_position is not None
            and after.source_position <= link.source_position):
        return None  # the next event goes backwards: it is the suspect, judged on its own
    suffix = " (or that last event is forged)" if i + 1 == len(chain.links) - 1 else ""
    if link.source_position is None or after.source_position is None:
        return _finding("altered", link, (
            f"not a readable envelope any more; the next event (stream sequence {after.seq}) "
            f"names a predecessor with hash {after.prev_hash[:12]}…, not on the stream{suffix}"
        ))
    if after.source_position == link.source_position + 1:
        return _finding("altered", link, (
            f"its bytes hash to {link.hash[:12]}… but the next event (position "
            f"{after.source_position}, stream sequence {after.seq}) recorded "
            f"{after.prev_hash[:12]}… for it{suffix}"
        ))
    return TamperFinding(
        "missing", link.source_org, link.source_position + 1, after.seq, None,
        f"events between source positions {link.source_position} (stream sequence {link.seq}) "
        f"and {after.source_position} (stream sequence {after.seq}) were dropped: the latter "
        f"names a predecessor with hash {after.prev_hash[:12]}…, not on the stream{suffix}",
    )


def sequence_gaps(sequences: Iterable[int], first: int) -> list[TamperFinding]:
    """Stream sequences that should be there and are not (deleted from the stream itself)."""
    findings: list[TamperFinding] = []
    expected = first
    for seq in sequences:
        if seq > expected:
            findings.append(TamperFinding(
                "deleted", "unknown", None, expected, None,
                f"stream sequences {expected}..{seq - 1} are missing from SEND_EVENTS",
            ))
        expected = seq + 1
    return findings


def chain_findings(links: Iterable[Link]) -> tuple[list[TamperFinding], list[ChainHead]]:
    """Every source's verdicts, in stream order, and each source's chain head.

    An event the ownership rule refuses is named as `not_permitted` and set aside before the
    chains are checked: its relay would never have published it (`services.sharing.relay`), so it
    was published around the relay with the source's login, and it is no link of the source's
    chain. Judged with it, the chain would blame the source's next genuine event instead."""
    by_source: dict[str, list[Link]] = defaultdict(list)
    findings: list[TamperFinding] = []
    for link in links:
        if link.refused is not None:
            findings.append(_finding("not_permitted", link, (
                f"published with {link.subject_org}'s login around its relay, never applied by "
                f"the projections: {link.refused}"
            )))
        else:
            by_source[link.source_org].append(link)
    heads: list[ChainHead] = []
    for source, source_links in sorted(by_source.items()):
        found = source_findings(source_links)
        findings.extend(found)
        set_aside = {f.stream_seq for f in found if f.kind in ("forged", "duplicate")}
        last = next((k for k in reversed(source_links) if k.seq not in set_aside),
                    source_links[-1])
        heads.append(ChainHead(
            source, len(source_links) - len(set_aside), last.source_position, last.seq, last.hash
        ))
    return sorted(findings, key=lambda f: f.stream_seq or 0), heads


@dataclass
class ChainReport:
    messages: int
    findings: list[TamperFinding]
    heads: list[ChainHead]
    stream: Snapshot | None = None
    """SEND_EVENTS' extent and the protected streams' retention when the check began."""
    last_seq: int = 0
    """The last stream sequence checked."""

    @property
    def intact(self) -> bool:
        return not self.findings


async def check_chains(
    nc: Client, *, stop_seq: int | None = None, checkpoint: Checkpoint | None = None
) -> ChainReport:
    """Read the whole stream once (read-only) and check every source's chain, the stream's
    extent and retention, and (given the last one) what the auditor's checkpoint recorded."""
    snap = await snapshot(nc)
    stop = snap.last_seq if stop_seq is None else min(stop_seq, snap.last_seq)
    links: list[Link] = []
    opened = OpenedReferences()
    async for message in read_stream(nc, stop_seq=stop):
        links.append(link_of(message, opened))
    findings, heads = chain_findings(links)
    gaps = sequence_gaps((link.seq for link in links), snap.first_seq)
    history = history_findings(snap, checkpoint, {link.seq: link.hash for link in links})
    if snap.messages and not links:
        history.append(TamperFinding(
            "truncated", "SEND_EVENTS", None, None, None,
            f"0 messages checked on a stream that holds {snap.messages}: nothing was verified",
        ))
    every = sorted(gaps + findings, key=lambda f: f.stream_seq or 0)
    return ChainReport(len(links), history + every, heads, snap, stop)
