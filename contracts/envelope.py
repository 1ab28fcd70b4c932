"""The one envelope every event travels in, and the base class of every payload.

The envelope carries what every consumer needs to route, order, deduplicate and audit an event
without knowing its payload: who published it, about whom (a pseudonymous key, never an
identifier), when it happened in the world (`occurred_at`) and when the source stored it
(`recorded_at`), and where it sits in the source's own log (`source_position`, `prev_hash`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny

ORG_CODE_PATTERN = r"^[A-Z0-9]{3,12}$"
PERSON_KEY_PATTERN = r"^p_[0-9a-f]{32}$"
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
SealedValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{40,4096}={0,2}$")]


class Payload(BaseModel):
    """Base of every event payload: strict (unknown fields are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    personal_fields: ClassVar[tuple[str, ...]] = ()
    """Fields that describe the person rather than the process: they travel sealed under the
    person's key (`contracts.sealing`) and read as None once the person is erased, so the model
    must declare them optional. Fields the shared counts need (dates, codes) stay in clear."""


class EnvelopeHeader(BaseModel):
    """The envelope without its payload: validated first, so a bad header is named as such."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(description="Unique id of this event; also the NATS Nats-Msg-Id.")
    type: str = Field(
        pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$",
        description="Event type, `family.name`, e.g. `ehc.plan_issued`.",
    )
    schema_version: int = Field(ge=1, description="Version of the payload schema for this type.")
    source_org: str = Field(
        pattern=ORG_CODE_PATTERN,
        description=(
            "Code of the publishing organisation: DfE LA code, NHS ODS code or provider id."
        ),
    )
    person_key: str = Field(
        pattern=PERSON_KEY_PATTERN,
        description=(
            "Pseudonymous person key: keyed HMAC of the NHS number, shared by the partnership."
        ),
    )
    occurred_at: AwareDatetime = Field(description="When it happened in the world (UTC).")
    recorded_at: AwareDatetime = Field(description="When the source service stored it (UTC).")
    correlation_id: UUID = Field(description="Groups the events of one case or one import.")
    causation_id: UUID | None = Field(
        default=None, description="The event or command that caused this one, if known."
    )
    source_position: int = Field(
        ge=1, description="Position of this event in the source organisation's own event log."
    )
    prev_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the source's previous event (tamper-evident chain); None at start.",
    )
    sealed: dict[FieldName, SealedValue] | None = Field(
        default=None,
        exclude_if=lambda sealed: not sealed,
        description=(
            "Personal payload fields encrypted under the person's key (AES-256-GCM, base64url of "
            "nonce + ciphertext + tag), by field name; the payload leaves them out. Absent when "
            "the event has none. `contracts.decode(..., keys=...)` opens them."
        ),
    )
    erased: tuple[FieldName, ...] | None = Field(
        default=None,
        exclude_if=lambda erased: not erased,
        description=(
            "Personal payload fields that are no longer available because the person was erased "
            "(their key deleted): they read as null. Absent when nothing was erased."
        ),
    )


class Envelope(EnvelopeHeader):
    """A complete event: header plus a registered, validated payload model."""

    payload: SerializeAsAny[Payload]

    @classmethod
    def wrap(
        cls,
        payload: Payload,
        *,
        source_org: str,
        person_key: str,
        occurred_at: datetime,
        source_position: int,
        event_id: UUID | None = None,
        recorded_at: datetime | None = None,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        prev_hash: str | None = None,
    ) -> Envelope:
        """Build an envelope for `payload`, taking type and version from its registration."""
        event_id = event_id or uuid4()
        return cls(
            event_id=event_id,
            type=payload.event_type,
            schema_version=payload.schema_version,
            source_org=source_org,
            person_key=person_key,
            occurred_at=occurred_at,
            recorded_at=recorded_at or datetime.now(UTC),
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            source_position=source_position,
            prev_hash=prev_hash,
            payload=payload,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict that the codec serialises with orjson."""
        return self.model_dump(mode="json")
