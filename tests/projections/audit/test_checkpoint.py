"""The auditor's checkpoint: a history that lost its start, was rolled back or reconfigured since
the last audit is a finding, whatever the chains of what is left say."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.audit.checkpoint import (
    Checkpoint,
    CheckpointUnreadable,
    Snapshot,
    history_findings,
    load,
    next_checkpoint,
    save,
)
from runtime.bus.streams import declared_streams, retention_of

DECLARED = {config.name: retention_of(config) for config in declared_streams()}


def snapshot(first: int, last: int, messages: int, **changes: object) -> Snapshot:
    events = {**DECLARED["SEND_EVENTS"], **changes}
    return Snapshot(first, last, messages, {**DECLARED, "SEND_EVENTS": events})


def verified(last: int = 100, heads: dict | None = None) -> Checkpoint:
    return next_checkpoint(snapshot(1, last, last), last, last,
                           [(s, seq, h) for s, (seq, h) in (heads or {}).items()])


def test_a_whole_history_as_declared_has_no_findings() -> None:
    assert history_findings(snapshot(1, 100, 100), verified(90), {}) == []
    assert history_findings(snapshot(0, 0, 0), None) == []


def test_a_stream_that_lost_its_start_fails_even_on_the_first_audit() -> None:
    # given no checkpoint yet, and a stream whose first 17,592 messages are gone
    (finding,) = history_findings(snapshot(17_593, 20_000, 2_408), None)
    assert (finding.kind, finding.stream_seq) == ("truncated", 17_593)
    assert "sequences 1..17592 are gone" in str(finding)


def test_a_stream_emptied_by_its_limits_fails_although_zero_messages_are_left() -> None:
    (finding,) = history_findings(snapshot(17_593, 17_592, 0), None)
    assert "has held 17592 messages (last sequence 17592) but holds none now" in finding.detail


def test_a_shorter_stream_than_the_last_audit_verified_is_named_with_both_ends() -> None:
    # given a checkpoint at 100, and a stream recreated (or restored) with 60 messages
    findings = history_findings(snapshot(1, 60, 60), verified(100), {})
    assert [f.kind for f in findings] == ["truncated", "truncated"]
    assert "ends at sequence 60, but the audit of" in findings[0].detail
    assert "verified it up to 100" in findings[0].detail
    assert "40 fewer than the 100" in findings[1].detail


def test_a_head_verified_last_time_with_other_bytes_now_is_altered() -> None:
    checkpoint = verified(100, {"856": (99, "a" * 64), "QK1": (100, "b" * 64)})
    (finding,) = history_findings(snapshot(1, 120, 120), checkpoint,
                                  {99: "a" * 64, 100: "c" * 64})
    assert (finding.kind, finding.source_org, finding.stream_seq) == ("altered", "QK1", 100)
    assert "now hashes to cccccccccccc" in finding.detail


def test_retention_is_checked_against_the_declaration_and_the_last_audit() -> None:
    checkpoint = verified(100)
    findings = history_findings(snapshot(1, 100, 100, max_age=2_000_000_000), checkpoint, {})
    assert [str(f) for f in findings] == [
        "reconfigured: SEND_EVENTS: max_age is 2s, declared 0 (kept for ever)",
        f"reconfigured: SEND_EVENTS: max_age is 2s, the audit of {checkpoint.verified_at} saw "
        "0 (kept for ever)",
    ]


def test_a_missing_protected_stream_is_named() -> None:
    snap = snapshot(1, 10, 10)
    snap.retention["KV_SEND_PERSON_KEYS"] = {"missing": True}
    (finding,) = history_findings(snap, None)
    assert str(finding) == "reconfigured: KV_SEND_PERSON_KEYS: the stream is missing"


def test_the_checkpoint_round_trips_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auditor" / "checkpoint.json"
    assert load(path) is None
    checkpoint = verified(100, {"856": (99, "a" * 64)})
    save(path, checkpoint)
    assert load(path) == checkpoint
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("{not json")
    with pytest.raises(CheckpointUnreadable, match="is not an audit checkpoint"):
        load(path)
