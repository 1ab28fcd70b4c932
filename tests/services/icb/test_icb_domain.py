"""The ICB/NHS trust rules, each refused with a message a partner's developer can act on."""

from __future__ import annotations

from typing import Any

import pytest
from stories import NHS_NUMBER, person_fields

from services.endpoint.ingest import Ingest

OTHER_CHILD = "9999999468"


def send(icb: Ingest, *commands: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Send commands in order; every one but the last must be accepted. The last reply."""
    replies = [icb.command(name, fields) for name, fields in commands]
    assert all(r["ok"] for r in replies[:-1]), replies
    return replies[-1]


def registered(nhs_number: str = NHS_NUMBER) -> tuple[str, dict[str, Any]]:
    return ("person.register", person_fields(nhs_number))


def referral(referral_id: str = "QK1-R-1", nhs_number: str = NHS_NUMBER, **extra: Any):
    return (
        "health.make_referral",
        {
            "nhs_number": nhs_number,
            "referral_id": referral_id,
            "referred_on": "2024-01-08",
            "pathway": "neurodevelopmental",
            **extra,
        },
    )


def diagnosis(**fields: Any) -> tuple[str, dict[str, Any]]:
    return (
        "health.record_diagnosis",
        {
            "nhs_number": NHS_NUMBER,
            "diagnosis_id": "QK1-D-1",
            "diagnosed_on": "2025-02-03",
            "condition": "autism",
            **fields,
        },
    )


def flag(command: str, la_code: str = "856", on: str = "2025-06-01") -> tuple[str, dict]:
    day = "set_on" if command == "health.set_ehc_plan_flag" else "cleared_on"
    return (command, {"nhs_number": NHS_NUMBER, day: on, "la_code": la_code})


@pytest.mark.parametrize(
    ("commands", "error"),
    [
        (
            [referral()],
            "health.referral_made: no person with this NHS number is registered by NHS "
            "organisation QK1; send person.register first",
        ),
        (
            [
                registered(),
                ("health.start_assessment", {"referral_id": "QK1-R-9", "started_on": "2024-05-01"}),
            ],
            "health.assessment_started: no referral QK1-R-9 is recorded by NHS organisation QK1; "
            "send health.make_referral first",
        ),
        (
            [
                registered(),
                referral(),
                ("health.start_assessment", {"referral_id": "QK1-R-1", "started_on": "2023-12-01"}),
            ],
            "health.assessment_started for referral QK1-R-1: started_on 2023-12-01 is before the "
            "referral on 2024-01-08",
        ),
        (
            [registered(), referral(), referral()],
            "health.referral_made for referral QK1-R-1: already recorded (referred on "
            "2024-01-08); use a new referral_id for a new referral",
        ),
        (
            [registered(), diagnosis()],
            "health.diagnosis_recorded for diagnosis QK1-D-1: give the referral_id it answers, "
            "or a no_referral_reason saying why there was none",
        ),
        (
            [
                registered(),
                referral(),
                diagnosis(referral_id="QK1-R-1", no_referral_reason="historic_record"),
            ],
            "health.diagnosis_recorded for diagnosis QK1-D-1: give either referral_id or "
            "no_referral_reason, not both",
        ),
        (
            [registered(), diagnosis(referral_id="QK1-R-7")],
            "health.diagnosis_recorded for diagnosis QK1-D-1: no referral QK1-R-7 is recorded by "
            "NHS organisation QK1; send health.make_referral first, or give referral_org if "
            "another organisation holds the referral",
        ),
        (
            [
                registered(),
                registered(OTHER_CHILD),
                referral(nhs_number=OTHER_CHILD),
                diagnosis(referral_id="QK1-R-1"),
            ],
            "health.diagnosis_recorded for diagnosis QK1-D-1: referral QK1-R-1 is for another "
            "person",
        ),
        (
            [registered(), referral(), diagnosis(referral_id="QK1-R-1", diagnosed_on="2023-06-01")],
            "health.diagnosis_recorded for diagnosis QK1-D-1: diagnosed_on 2023-06-01 is before "
            "referral QK1-R-1 on 2024-01-08",
        ),
        (
            [registered(), flag("health.clear_ehc_plan_flag")],
            "health.ehc_plan_flag_cleared for a person registered by NHS organisation QK1: the "
            "EHC plan flag for "
            "LA 856 is not set, so it cannot be cleared",
        ),
        (
            [registered(), flag("health.set_ehc_plan_flag"), flag("health.set_ehc_plan_flag")],
            "health.ehc_plan_flag_set for a person registered by NHS organisation QK1: the EHC "
            "plan flag for LA "
            "856 is already set (since 2025-06-01); clear it before setting it again",
        ),
        (
            [
                registered(),
                flag("health.set_ehc_plan_flag"),
                flag("health.clear_ehc_plan_flag", on="2025-05-01"),
            ],
            "health.ehc_plan_flag_cleared for a person registered by NHS organisation QK1: "
            "cleared_on 2025-05-01 "
            "is before the flag was set on 2025-06-01",
        ),
        (
            [
                registered(),
                (
                    "health.complete_annual_health_check",
                    {
                        "nhs_number": NHS_NUMBER,
                        "completed_on": "2025-01-10",
                        "health_action_plan": True,
                    },
                ),
            ],
            "health.annual_health_check_completed for a person registered by NHS organisation "
            "QK1: completed_on "
            "2025-01-10 is before their 14th birthday; learning disability annual health checks "
            "start at 14",
        ),
        (
            [
                registered(),
                (
                    "health.change_dsr_status",
                    {"nhs_number": NHS_NUMBER, "changed_on": "2025-01-10", "status": "removed"},
                ),
            ],
            "health.dsr_status_changed for a person registered by NHS organisation QK1: the "
            "person is not on the "
            "dynamic support register, so cannot be removed",
        ),
        (
            [
                registered(),
                (
                    "health.transfer_to_adult_services",
                    {
                        "nhs_number": NHS_NUMBER,
                        "transferred_on": "2026-04-20",
                        "service": "adult_ld",
                    },
                ),
            ],
            "health.transferred_to_adult_services for a person registered by NHS organisation "
            "QK1: no referral to "
            "adult_ld has been accepted; send health.accept_adult_services_referral first",
        ),
        (
            [
                registered(),
                (
                    "health.accept_adult_services_referral",
                    {
                        "nhs_number": NHS_NUMBER,
                        "accepted_on": "2026-10-01",
                        "service": "adult_ld",
                        "agreed_transfer_on": "2026-09-01",
                    },
                ),
            ],
            "health.adult_services_referral_accepted for a person registered by NHS organisation "
            "QK1: "
            "agreed_transfer_on 2026-09-01 is before accepted_on 2026-10-01",
        ),
        (
            [
                registered(),
                (
                    "transition.assign_named_worker",
                    {"nhs_number": NHS_NUMBER, "assigned_on": "2010-01-01"},
                ),
            ],
            "transition.named_worker_assigned for a person registered by NHS organisation QK1: "
            "assigned_on "
            "2010-01-01 is before their date of birth",
        ),
        (
            [
                registered(),
                *[
                    (
                        "ehc.return_advice",
                        {
                            "nhs_number": NHS_NUMBER,
                            "case_id": "856-C-1",
                            "advice_request_id": "856-C-1-A1",
                            "requesting_la": "856",
                            "returned_on": "2025-03-14",
                        },
                    )
                ]
                * 2,
            ],
            "ehc.advice_returned for advice request 856-C-1-A1 of LA 856: advice was already "
            "returned on 2025-03-14",
        ),
    ],
)
def test_a_command_the_rules_refuse_is_answered_with_the_reason(
    icb: Ingest, commands: list, error: str
) -> None:
    # when the partner sends the commands
    reply = send(icb, *commands)
    # then the last is refused, saying why
    assert reply == {"ok": False, "error": error}


def test_a_diagnosis_on_a_referral_held_elsewhere_is_accepted_when_marked(icb: Ingest) -> None:
    reply = send(icb, registered(), diagnosis(referral_id="RWE-R-1", referral_org="RWE"))
    assert reply["ok"] and len(reply["event_ids"]) == 1


def test_the_care_pathway_of_a_child_is_recorded_in_order(icb: Ingest) -> None:
    # given a referral, its first assessment and the diagnosis it led to
    reply = send(
        icb,
        registered(),
        referral(priority="urgent"),
        ("health.start_assessment", {"referral_id": "QK1-R-1", "started_on": "2024-09-02"}),
        diagnosis(referral_id="QK1-R-1"),
        flag("health.set_ehc_plan_flag"),
        flag("health.clear_ehc_plan_flag", on="2026-01-05"),
        flag("health.set_ehc_plan_flag", on="2026-02-01"),
    )
    # then every step is accepted, and a cleared flag can be set again
    assert reply["ok"] is True
