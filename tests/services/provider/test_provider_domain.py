"""The provider's rules (AP placements, part-time timetables, post-16 destinations), each
refused with a message a partner's developer can act on."""

from __future__ import annotations

from typing import Any

import pytest
from stories import NHS_NUMBER, person_fields

from services.endpoint.ingest import Ingest


def send(provider: Ingest, *commands: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    replies = [provider.command(name, fields) for name, fields in commands]
    assert all(r["ok"] for r in replies[:-1]), replies
    return replies[-1]


REGISTER = ("person.register", person_fields())


def start(placement_id: str = "AP001-P-1", on: str = "2025-01-20") -> tuple[str, dict]:
    return (
        "ap.start_placement",
        {
            "nhs_number": NHS_NUMBER,
            "placement_id": placement_id,
            "started_on": on,
            "tier": "2",
            "part_time": "yes",
            "reason": "exclusion",
            "commissioned_by": "856",
        },
    )


def end(placement_id: str = "AP001-P-1", on: str = "2025-04-04") -> tuple[str, dict]:
    return (
        "ap.end_placement",
        {"placement_id": placement_id, "ended_on": on, "outcome": "reintegrated"},
    )


def timetable(command: str, on: str, timetable_id: str = "T-1") -> tuple[str, dict]:
    if command == "provider.end_part_time_timetable":
        return (command, {"timetable_id": timetable_id, "ended_on": on})
    return (
        command,
        {
            "nhs_number": NHS_NUMBER,
            "timetable_id": timetable_id,
            "started_on": on,
            "hours_per_week": "12.5",
            "reason": "medical",
        },
    )


def destination(moves_on: str) -> tuple[str, dict]:
    return (
        "provider.confirm_post16_destination",
        {
            "nhs_number": NHS_NUMBER,
            "confirmed_on": "2025-02-15",
            "destination": "fe_college",
            "moves_on": moves_on,
        },
    )


@pytest.mark.parametrize(
    ("commands", "error"),
    [
        (
            [REGISTER, start(), end(on="2025-01-10")],
            "ap.placement_ended for placement AP001-P-1: ended_on 2025-01-10 is before the "
            "placement started on 2025-01-20",
        ),
        (
            [REGISTER, start(), start("AP001-P-2", on="2025-02-01")],
            "ap.placement_started for placement AP001-P-2: placement AP001-P-1 is still active "
            "for this person at this provider; end it first",
        ),
        (
            [REGISTER, start(), end(), end()],
            "ap.placement_ended for placement AP001-P-1: the placement already ended on 2025-04-04",
        ),
        (
            [REGISTER, end("AP001-P-9")],
            "ap.placement_ended: no placement AP001-P-9 is recorded by provider AP001; send "
            "ap.start_placement first",
        ),
        (
            [REGISTER, start(), end(), start()],
            "ap.placement_started for placement AP001-P-1: already started on 2025-01-20; use a "
            "new placement_id for a new placement",
        ),
        (
            [
                REGISTER,
                timetable("provider.start_part_time_timetable", "2025-02-03"),
                timetable("provider.end_part_time_timetable", "2025-01-31"),
            ],
            "provider.part_time_timetable_ended for timetable T-1: ended_on 2025-01-31 is before "
            "the timetable started on 2025-02-03",
        ),
        (
            [
                REGISTER,
                timetable("provider.start_part_time_timetable", "2025-02-03"),
                timetable("provider.start_part_time_timetable", "2025-03-03", "T-2"),
            ],
            "provider.part_time_timetable_started for timetable T-2: timetable T-1 is still "
            "active for this person at this provider; end it first",
        ),
        (
            [REGISTER, destination("2025-09-01")],
            "provider.post16_destination_confirmed for a person registered by provider AP001: "
            "moves_on "
            "2025-09-01 is before they turn 15; post-16 destinations follow Year 11",
        ),
        (
            [start()],
            "ap.placement_started: no person with this NHS number is registered by provider "
            "AP001; send person.register first",
        ),
    ],
)
def test_a_command_the_rules_refuse_is_answered_with_the_reason(
    provider: Ingest, commands: list, error: str
) -> None:
    assert send(provider, *commands) == {"ok": False, "error": error}


def test_a_new_placement_may_start_once_the_last_one_ended(provider: Ingest) -> None:
    reply = send(provider, REGISTER, start(), end(), start("AP001-P-2", on="2025-04-28"))
    assert reply["ok"] and len(reply["event_ids"]) == 1


def test_hours_outside_a_school_week_are_refused_naming_the_field(provider: Ingest) -> None:
    name, fields = timetable("provider.start_part_time_timetable", "2025-02-03")
    reply = send(provider, REGISTER, (name, {**fields, "hours_per_week": "40"}))
    assert reply == {"ok": False, "error": "field hours_per_week: Input should be less than 32.5"}


def test_a_post16_destination_after_year_11_is_recorded(provider: Ingest) -> None:
    assert send(provider, REGISTER, destination("2027-09-01"))["ok"] is True
