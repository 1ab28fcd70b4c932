"""Each field and code list is declared once, in `contracts/`: every command a service accepts
is checked against the contract event it produces, so a field added to an event and not to its
command (or a code list that drifts) fails here, naming the command and the field."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.registry import all_events
from services.domain.command import Command
from services.endpoint.process import SERVICE_DEFINITIONS, definition_for

BOUNDARY_ONLY = {"nhs_number", "given_name", "family_name", "born_on"}
"""What a partner sends that never leaves the organisation (only its pseudonym or the birth
month does)."""
FILLED_BY_THE_SERVICE = {
    ("person.register", "birth_month"): "the month of born_on",
    ("health.start_assessment", "pathway"): "the referral's pathway",
    ("health.close_referral", "pathway"): "the referral's pathway",
}
NULLABLE_IN_THE_CONTRACT = {
    ("health.record_diagnosis", "condition"): "reads as null once the person is erased",
}
DROPPED = ("description", "title", "default", "examples")
"""What may differ: the command documents the boundary (dates up to today), the contract the
shared meaning."""


def current_payloads() -> dict[str, Any]:
    current: dict[str, Any] = {}
    for spec in all_events():
        if spec.type not in current or spec.version > current[spec.type].version:
            current[spec.type] = spec
    return {event_type: spec.model for event_type, spec in current.items()}


def shape(schema: Any) -> Any:
    """A field's JSON Schema without its documentation: the type, code list and pattern."""
    if isinstance(schema, dict):
        return {k: shape(v) for k, v in schema.items() if k not in DROPPED}
    if isinstance(schema, list):
        return [shape(v) for v in schema]
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


COMMANDS = [
    (kind.value, command)
    for kind in SERVICE_DEFINITIONS
    for command in definition_for(kind).catalogue.commands
]


def produced(command: type[Command]) -> Any:
    payloads = current_payloads()
    events = [alias for alias in command.aliases if alias in payloads]
    assert events, f"{command.name}: no alias names the contract event it produces"
    return payloads[events[0]]


@pytest.mark.parametrize(
    ("kind", "command"), COMMANDS, ids=[f"{k}:{c.name}" for k, c in COMMANDS]
)
def test_a_command_has_the_fields_and_code_lists_of_its_event(
    kind: str, command: type[Command]
) -> None:
    payload = produced(command)
    ours = command.model_json_schema(mode="validation")["properties"]
    theirs = payload.model_json_schema(mode="validation")["properties"]
    unknown = set(ours) - set(theirs) - BOUNDARY_ONLY
    assert not unknown, f"{kind} {command.name}: fields not in {payload.__name__}: {unknown}"
    missing = {
        f for f in set(theirs) - set(ours) if (command.name, f) not in FILLED_BY_THE_SERVICE
    }
    assert not missing, f"{kind} {command.name}: {payload.__name__} also has {missing}"
    for field in set(ours) & set(theirs):
        expected = shape(theirs[field])
        if (command.name, field) in NULLABLE_IN_THE_CONTRACT:
            expected = shape(theirs[field])["anyOf"][0]
        assert shape(ours[field]) == expected, (
            f"{kind} {command.name}, field {field}: {shape(ours[field])} in the command, "
            f"{expected} in {payload.__name__}"
        )


def test_a_drifted_code_list_is_found() -> None:
    """The check can fail: a placement list re-declared without `ap` is not the contract's."""
    from typing import Literal

    from pydantic import create_model

    from services.la.commands import IssuePlan

    drifted = create_model(  # type: ignore[call-overload]
        "IssuePlan", __base__=IssuePlan,
        placement=(Literal["mainstream", "resourced_provision", "special", "post16", "other"], ...),
    )
    drifted.name, drifted.aliases = IssuePlan.name, IssuePlan.aliases
    with pytest.raises(AssertionError, match="field placement"):
        test_a_command_has_the_fields_and_code_lists_of_its_event("la", drifted)
