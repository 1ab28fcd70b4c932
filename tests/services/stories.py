"""Factories for the services tests: the commands of a typical EHC story
(register -> request -> assess -> plan) and the same as extract rows."""

from __future__ import annotations

from typing import Any

NHS_NUMBER = "9434765919"
PARTNERSHIP_KEY = b"test-partnership-key"


def person_fields(nhs_number: str = NHS_NUMBER, **overrides: Any) -> dict[str, Any]:
    return {
        "nhs_number": nhs_number,
        "given_name": "Amelia",
        "family_name": "Okonkwo",
        "born_on": "2011-04-17",
        **overrides,
    }


def story(
    case: str = "856-C-1", plan: str = "856-P-1", nhs_number: str = NHS_NUMBER
) -> list[tuple[str, dict[str, Any]]]:
    """(command, fields) from registration to an issued plan, 19 weeks after the request."""
    return [
        ("person.register", person_fields(nhs_number)),
        (
            "ehc.request_assessment",
            {
                "nhs_number": nhs_number,
                "case_id": case,
                "requested_on": "2025-01-06",
                "requested_by": "parent",
            },
        ),
        (
            "ehc.decide_assessment",
            {"case_id": case, "decided_on": "2025-02-10", "decision": "assess"},
        ),
        (
            "ehc.issue_plan",
            {
                "case_id": case,
                "plan_id": plan,
                "issued_on": "2025-05-19",
                "primary_need": "ASD",
                "placement": "mainstream",
                "placement_provider": "120001",
            },
        ),
    ]


def plan_in_force(
    case: str = "856-C-9", plan: str = "856-P-9", nhs_number: str = NHS_NUMBER, **overrides: Any
) -> tuple[str, dict[str, Any]]:
    """Go-live: a plan issued in 2019, in force when the LA joins, from the LA's own system."""
    return (
        "ehc.record_plan_in_force",
        {
            "nhs_number": nhs_number,
            "case_id": case,
            "plan_id": plan,
            "issued_on": "2019-03-04",
            "primary_need": "SEMH",
            "placement": "special",
            "last_reviewed_on": "2025-12-01",
            "last_amended_on": "2024-07-01",
            "migrated_from": "capita-one",
            **overrides,
        },
    )


def assessment_at_step(
    case: str = "856-C-8", nhs_number: str = NHS_NUMBER, **overrides: Any
) -> tuple[str, dict[str, Any]]:
    """Go-live: an assessment being carried out when the LA joins, from the LA's own system."""
    return (
        "ehc.record_assessment_at_step",
        {
            "nhs_number": nhs_number,
            "case_id": case,
            "requested_on": "2026-08-03",
            "requested_by": "school_or_college",
            "step": "assessing",
            "decided_on": "2026-09-10",
            "migrated_from": "capita-one",
            **overrides,
        },
    )


def as_rows(commands: list[tuple[str, dict[str, Any]]], prefix: str = "r") -> list[dict[str, Any]]:
    """The same commands as extract rows with the partner's record ids."""
    return [
        {"record_id": f"{prefix}{n}", "command": name, **fields}
        for n, (name, fields) in enumerate(commands, start=1)
    ]
