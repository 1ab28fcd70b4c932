"""`ap.*`: alternative provision placements, commissioned by an LA and held by a provider."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field

from contracts.envelope import Payload
from contracts.provenance import MigratedFrom
from contracts.registry import event, upcaster
from contracts.vocab import LocalId, OrgCode

Tier = Literal[1, 2, 3]
APReason = Literal["exclusion", "medical", "send", "behaviour", "other"]
PlacementOutcome = Literal["reintegrated", "moved", "other"]


@event("ap.placement_commissioned")
class PlacementCommissioned(Payload):
    """An LA commissioned an AP placement from a provider."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "placement_id": "AP1-000017", "commissioned_on": "2025-01-13", "provider": "AP001",
            "tier": 2, "reason": "exclusion",
        }]}
    )

    placement_id: LocalId = Field(description="Reference shared by the LA and the provider.")
    commissioned_on: date = Field(description="Date the LA commissioned the placement.")
    provider: OrgCode
    tier: Tier = Field(description="1 targeted support in school, 2 time-limited, 3 full-time AP.")
    reason: APReason = Field(description="Why the child needs alternative provision.")


@event("ap.placement_started")
class PlacementStartedV1(Payload):
    """v1 of `ap.placement_started` (superseded by v2, which adds `migrated_from`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "placement_id": "AP1-000017", "started_on": "2025-01-20", "tier": 2,
            "part_time": True, "reason": "exclusion", "commissioned_by": "856",
        }]}
    )

    placement_id: LocalId
    started_on: date = Field(description="The child's first day at the AP provider.")
    tier: Tier = Field(description="1 targeted support in school, 2 time-limited, 3 full-time AP.")
    part_time: bool = Field(
        description="The placement is less than full time (DfE: time-limited and reviewed)."
    )
    reason: APReason = Field(description="Why the child needs alternative provision.")
    commissioned_by: OrgCode | None = Field(default=None, description="Commissioning LA code.")


@event("ap.placement_started", version=2)
class PlacementStarted(PlacementStartedV1):
    """A provider started an AP placement.

    v2 adds `migrated_from`: a placement already running when the provider joined is recorded
    at go-live with its real start date (a v1 placement was observed live).
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "placement_id": "AP1-000017", "started_on": "2025-01-20", "tier": 2,
            "part_time": True, "reason": "exclusion", "commissioned_by": "856",
            "migrated_from": "sims",
        }]}
    )

    migrated_from: MigratedFrom


@upcaster("ap.placement_started", from_version=1)
def _placement_observed_live(payload: dict) -> dict:
    return dict(payload)


@event("ap.placement_ended")
class PlacementEnded(Payload):
    """An AP placement ended, with its outcome (reintegration is the aim)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "placement_id": "AP1-000017", "ended_on": "2025-04-04", "outcome": "reintegrated",
        }]}
    )

    placement_id: LocalId
    ended_on: date = Field(description="The child's last day at the AP provider.")
    outcome: PlacementOutcome = Field(
        description="reintegrated into school, moved to another placement, or other."
    )
