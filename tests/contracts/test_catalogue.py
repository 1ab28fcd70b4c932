"""The published catalogue: every event of the domain is there, described, with an example that
its own JSON Schema and model accept, and each is published by some organisation kind."""

from __future__ import annotations

import pytest

from contracts.registry import all_events, model_for
from contracts.schemas import event_schemas
from contracts.topology import PUBLISHES

jsonschema = pytest.importorskip("jsonschema")

DOMAIN_CATALOGUE = {
    "person.registered",
    "ehc.assessment_requested",
    "ehc.assessment_decided",
    "ehc.advice_requested",
    "ehc.plan_issued",
    "ehc.plan_not_issued",
    "ehc.annual_review_held",
    "ehc.review_outcome",
    "ehc.plan_amended",
    "ehc.plan_ceased",
    "transition.plan_agreed",
    "transition.named_worker_assigned",
    "adult_social_care.transition_assessment_completed",
    "ap.placement_commissioned",
    "health.referral_made",
    "health.assessment_started",
    "health.diagnosis_recorded",
    "ehc.advice_returned",
    "health.annual_health_check_completed",
    "health.dsr_status_changed",
    "health.care_summary_updated",
    "health.ehc_plan_flag_set",
    "health.ehc_plan_flag_cleared",
    "health.adult_services_referral_accepted",
    "health.transferred_to_adult_services",
    "ap.placement_started",
    "ap.placement_ended",
    "provider.part_time_timetable_started",
    "provider.part_time_timetable_ended",
    "provider.post16_destination_confirmed",
}
SPECS = all_events()


def test_every_event_of_the_domain_catalogue_is_registered_and_has_a_publisher() -> None:
    registered = {s.type for s in SPECS}
    assert DOMAIN_CATALOGUE <= registered
    assert registered <= set().union(*PUBLISHES.values())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.type}.v{s.version}")
def test_every_field_is_described_and_the_example_round_trips(spec) -> None:
    # given the published JSON Schema of one event version
    schema = event_schemas()[f"{spec.type}.v{spec.version}"]
    # then every field says what it means
    undescribed = [k for k, v in schema["properties"].items() if "description" not in v]
    assert not undescribed, f"{spec.type} v{spec.version}: no description for {undescribed}"
    # and its example is valid against the schema, and survives the model unchanged
    (example,) = schema["examples"]
    jsonschema.validate(example, schema)
    model = model_for(spec.type, spec.version)
    assert set(example) == set(schema["properties"]), "the example shows every field"
    assert model.model_validate(example).model_dump(mode="json") == example
