"""The auditor's own record of the history it last verified, and what a later audit checks
against it: history cannot be shortened, rolled back or reconfigured unseen.

The hash chains prove order and integrity of what is on the stream; they cannot see what is no
longer there. A stream whose oldest messages aged out (`max_age 2s`), or that was replaced by
a shorter one, still has intact chains from its new start: "0 messages checked, intact". So
each audit run that finds everything intact writes a checkpoint in the auditor's own directory
(`$SENDX_DATA_DIR/auditor/checkpoint.json`, or `--checkpoint PATH`): the stream's first and
last sequence and message count, each source's chain head (stream sequence and SHA-256), and
the retention settings of every protected stream. The next run fails loudly when

- the stream no longer starts at sequence 1, or it holds no message although it had some
  (`truncated`): SEND_EVENTS denies deletes and purges, so only a changed limit, a deleted
  and recreated stream or a restored older copy removes its head;
- it ends before the last sequence verified, or holds fewer messages (`truncated`);
- a source head verified last time is gone or has other bytes (`altered`);
- a protected stream's retention differs from its declaration (`runtime.bus.streams`) or from
  what the last audit saw (`reconfigured`).

The checkpoint is only as safe as the auditor's directory: keep it where the partnership's
admin cannot write (the auditor's own machine or account), and copy its heads into the minutes.
Pure functions here; reading the bus and the file is at the edges (`snapshot`, `load`, `save`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client
from nats.js.errors import NotFoundError

from projections.audit.findings import TamperFinding, TamperKind
from runtime.bus.streams import EVENTS_STREAM, declared_streams, retention_drift, retention_of

CHECKPOINT_DIR = "auditor"
CHECKPOINT_FILE = "checkpoint.json"
Retention = dict[str, dict[str, object]]
"""Stream name -> its retention settings (`runtime.bus.streams.retention_of`)."""


def default_checkpoint(data_dir: Path) -> Path:
    return data_dir / CHECKPOINT_DIR / CHECKPOINT_FILE


@dataclass(frozen=True)
class Snapshot:
    """SEND_EVENTS' extent and every protected stream's retention, read before an audit."""

    first_seq: int
    last_seq: int
    messages: int
    retention: Retention


@dataclass(frozen=True)
class Checkpoint:
    first_seq: int
    last_seq: int
    messages: int
    heads: dict[str, tuple[int, str]]
    """Source organisation -> (stream sequence, SHA-256) of its chain head."""
    retention: Retention
    verified_at: str
    stream: str = EVENTS_STREAM
    note: str = field(default="written by `sendx audit` after a run that found everything intact")


class CheckpointUnreadable(ValueError):
    """The checkpoint file exists but is not one: never silently start again from nothing."""


async def snapshot(nc: Client) -> Snapshot:
    js = nc.jetstream()
    state = (await js.stream_info(EVENTS_STREAM)).state
    retention: Retention = {}
    for declared in declared_streams():
        try:
            retention[declared.name] = retention_of((await js.stream_info(declared.name)).config)
        except NotFoundError:
            retention[declared.name] = {"missing": True}
    return Snapshot(state.first_seq, state.last_seq, state.messages, retention)


def history_findings(
    snap: Snapshot,
    checkpoint: Checkpoint | None,
    hashes: Mapping[int, str] | None = None,
) -> list[TamperFinding]:
    """Pure: what is missing or changed in the history, from its extent, its retention and the
    last checkpoint; `hashes` (stream sequence -> SHA-256 of what was read) checks the heads."""
    findings = _extent_findings(snap)
    findings += _retention_findings(snap.retention, checkpoint)
    if checkpoint is not None:
        findings += _against_checkpoint(snap, checkpoint, hashes)
    return findings


def _stream_finding(
    kind: TamperKind, seq: int | None, detail: str, stream: str = EVENTS_STREAM
) -> TamperFinding:
    return TamperFinding(kind, stream, None, seq, None, detail)


def _extent_findings(snap: Snapshot) -> list[TamperFinding]:
    if snap.last_seq == 0:
        return []
    if snap.messages == 0:
        return [_stream_finding("truncated", snap.first_seq, (
            f"the stream has held {snap.last_seq} messages (last sequence {snap.last_seq}) but "
            "holds none now: its whole history is gone"
        ))]
    if snap.first_seq > 1:
        return [_stream_finding("truncated", snap.first_seq, (
            f"the stream starts at sequence {snap.first_seq}: sequences 1..{snap.first_seq - 1} "
            "are gone (SEND_EVENTS denies deletes and purges: a limit was changed, or the "
            "stream replaced)"
        ))]
    return []


def _retention_findings(actual: Retention, checkpoint: Checkpoint | None) -> list[TamperFinding]:
    findings = []
    for declared in declared_streams():
        now = actual.get(declared.name, {"missing": True})
        if now.get("missing"):
            findings.append(_stream_finding("reconfigured", None, "the stream is missing",
                                            declared.name))
            continue
        lines = retention_drift(retention_of(declared), now, "declared")
        if checkpoint is not None and declared.name in checkpoint.retention:
            lines += retention_drift(checkpoint.retention[declared.name], now,
                                     f"the audit of {checkpoint.verified_at} saw")
        findings += [_stream_finding("reconfigured", None, line, declared.name)
                     for line in lines]
    return findings


def _against_checkpoint(
    snap: Snapshot, checkpoint: Checkpoint, hashes: Mapping[int, str] | None
) -> list[TamperFinding]:
    when = f"the audit of {checkpoint.verified_at}"
    findings = []
    if snap.last_seq < checkpoint.last_seq:
        findings.append(_stream_finding("truncated", snap.last_seq, (
            f"the stream ends at sequence {snap.last_seq}, but {when} verified it up to "
            f"{checkpoint.last_seq}: it was replaced by a shorter one or rolled back"
        )))
    if snap.first_seq > checkpoint.first_seq and snap.messages:
        findings.append(_stream_finding("truncated", snap.first_seq, (
            f"the stream starts at sequence {snap.first_seq}, but {when} verified it from "
            f"{checkpoint.first_seq}"
        )))
    if snap.messages < checkpoint.messages:
        findings.append(_stream_finding("truncated", None, (
            f"the stream holds {snap.messages} messages, {checkpoint.messages - snap.messages} "
            f"fewer than the {checkpoint.messages} {when} verified"
        )))
    if hashes is not None:
        for source, (seq, digest) in sorted(checkpoint.heads.items()):
            found = hashes.get(seq)
            if found is None:
                detail = f"its chain head verified by {when} (stream sequence {seq}) is gone"
            elif found != digest:
                detail = (f"its chain head verified by {when} at stream sequence {seq} "
                          f"(sha256 {digest[:12]}…) now hashes to {found[:12]}…")
            else:
                continue
            findings.append(TamperFinding("altered", source, None, seq, None, detail))
    return findings


def next_checkpoint(
    snap: Snapshot, last_seq: int, messages: int, heads: Sequence[tuple[str, int, str]]
) -> Checkpoint:
    """What this run verified: the stream up to `last_seq`, holding `messages` messages."""
    return Checkpoint(
        first_seq=snap.first_seq, last_seq=last_seq, messages=messages,
        heads={source: (seq, digest) for source, seq, digest in heads},
        retention=snap.retention,
        verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def load(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`; None when there is none yet (the first audit)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        heads = {source: (int(seq), str(digest)) for source, (seq, digest) in
                 data.pop("heads").items()}
        return Checkpoint(heads=heads, **data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointUnreadable(
            f"{path} is not an audit checkpoint ({exc}): restore it from the auditor's copy, "
            "or move it away to start again from this run (the missing history before it "
            "would then go unseen)"
        ) from None


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Write readable by the auditor only, replacing the old checkpoint atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(checkpoint), out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)
