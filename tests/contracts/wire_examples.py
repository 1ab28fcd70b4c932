"""Messages exactly as publishers sent them, for the tests of the published schemas."""

from __future__ import annotations

V1_REFERRAL = {
    "event_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
    "type": "health.referral_made",
    "schema_version": 1,
    "source_org": "RT5",
    "person_key": "p_" + "1" * 32,
    "occurred_at": "2024-11-04T00:00:00Z",
    "recorded_at": "2024-11-04T09:00:00Z",
    "correlation_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
    "source_position": 1,
    "payload": {"referral_id": "RT5-R-1", "referred_on": "2024-11-04", "pathway": "slt"},
}
"""A v1 `health.referral_made` as an old publisher sent it (before `priority`)."""
