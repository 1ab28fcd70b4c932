"""What the audit commands print: a short text for people, a JSON document for tools.

Kept apart from the checks so that the checks return values the tests assert on, and the wording
an auditor reads lives in one place.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from projections.audit.asof import Replay
from projections.audit.digest import Contents
from projections.audit.findings import TamperFinding
from projections.audit.tamper import ChainReport
from projections.audit.verify import ProjectionCheck

ROWS_SHOWN = 10


def replay_document(replay: Replay, contents: Contents) -> dict[str, Any]:
    return {
        "projection": replay.projection,
        "as_of": replay.as_of.isoformat(),
        "by": replay.by.value,
        "as_at_stream_sequence": replay.position,
        "applied": replay.applied,
        "left_out": replay.left_out,
        "invalid": [{"stream_seq": seq, "reason": reason} for seq, reason in replay.invalid],
        "tables": {
            name: {"digest": table.digest, "rows": table.as_dicts()}
            for name, table in contents.tables.items()
        },
    }


def replay_text(replay: Replay, contents: Contents, *, kept: bool) -> str:
    cut = ("what SEND_EVENTS held" if replay.by.value == "recorded"
           else "every event now on the stream that had occurred")
    lines = [
        f"{replay.projection} as of {replay.as_of.isoformat()} ({cut} by then)",
        f"  as at stream sequence {replay.position}: {replay.applied} events applied, "
        f"{replay.left_out} left out, {len(replay.invalid)} invalid",
    ]
    lines += [
        f"  {name:<24} {len(table.rows):>8} rows  sha256 {table.digest}"
        for name, table in contents.tables.items()
    ]
    if kept:
        lines.append(f"  store: {replay.location} (browse it: sendx api --db {replay.location})")
    return "\n".join(lines)


def check_document(check: ProjectionCheck) -> dict[str, Any]:
    return {
        "projection": check.projection,
        "agrees": check.agrees,
        "as_at_stream_sequence": check.position,
        "digests": check.digests,
        "differences": [asdict(d) for d in check.differences],
        "first_divergence": asdict(check.divergence) if check.divergence else None,
    }


def check_text(check: ProjectionCheck) -> str:
    if check.agrees:
        return (f"{check.projection}: live read model equals a rebuild to stream sequence "
                f"{check.position} ({len(check.digests)} tables, digests match)")
    lines = [f"{check.projection}: live read model DIFFERS from a rebuild to stream sequence "
             f"{check.position}"]
    for difference in check.differences:
        lines.append(
            f"  table {difference.table}: live {difference.live_rows} rows sha256 "
            f"{difference.live_digest[:16]}…, rebuilt {difference.rebuilt_rows} rows sha256 "
            f"{difference.rebuilt_digest[:16]}…"
        )
        for label, rows in (("only live", difference.only_live),
                            ("only rebuilt", difference.only_rebuilt)):
            lines += [f"    {label}: {row}" for row in rows[:ROWS_SHOWN]]
            if len(rows) > ROWS_SHOWN:
                lines.append(f"    {label}: … {len(rows) - ROWS_SHOWN} more")
    if check.divergence is not None:
        lines.append(f"  {check.divergence}")
    return "\n".join(lines)


def chain_document(report: ChainReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "messages": report.messages,
        "stream": asdict(report.stream) if report.stream else None,
        "findings": [asdict(f) for f in report.findings],
        "heads": [asdict(h) for h in report.heads],
    }


def chain_text(report: ChainReport) -> str:
    verdict = ("every source's hash chain is intact" if report.intact
               else f"{len(report.findings)} tamper finding(s)")
    extent = ""
    if report.stream is not None and report.messages:
        extent = f" (stream sequences {report.stream.first_seq}..{report.last_seq})"
    lines = [f"chains: {report.messages} messages checked, {verdict}{extent}"]
    lines += [f"  {finding}" for finding in report.findings]
    lines += [
        f"  head {h.source_org}: {h.events} events, last position {h.source_position} at "
        f"stream sequence {h.stream_seq}, sha256 {h.hash}"
        for h in report.heads
    ]
    return "\n".join(lines)


def history_text(findings: list[TamperFinding]) -> str:
    """`sendx audit verify --no-chain`: the stream's extent and retention alone."""
    if not findings:
        return "history: the stream starts at sequence 1, its retention is as declared"
    return "\n".join([f"history: {len(findings)} finding(s)"] + [f"  {f}" for f in findings])
