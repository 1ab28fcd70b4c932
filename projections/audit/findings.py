"""What an audit finds wrong with the history: one finding names the source, its position, the
stream sequence and the event, so an auditor can go straight to the message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TamperKind = Literal[
    "duplicate", "forged", "reordered", "altered", "missing", "deleted", "truncated",
    "reconfigured", "not_permitted",
]
"""`truncated` and `reconfigured` are about the stream itself (`projections.audit.checkpoint`);
the others about one source's chain (`projections.audit.tamper`)."""
STREAM_KINDS = ("truncated", "reconfigured")


@dataclass(frozen=True)
class TamperFinding:
    kind: TamperKind
    source_org: str
    source_position: int | None
    stream_seq: int | None
    event_id: str | None
    detail: str

    def __str__(self) -> str:
        if self.kind in STREAM_KINDS:
            at = f", stream sequence {self.stream_seq}" if self.stream_seq else ""
            return f"{self.kind}: {self.source_org}{at}: {self.detail}"
        position = "?" if self.source_position is None else self.source_position
        return (
            f"{self.kind}: source {self.source_org} position {position}, stream sequence "
            f"{self.stream_seq or '?'}, event {self.event_id or '?'}: {self.detail}"
        )
