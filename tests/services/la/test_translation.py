"""What leaves the LA: valid contract events, pseudonymised, minimised, within the topology."""

from __future__ import annotations

from typing import Any

import pytest
from stories import NHS_NUMBER, PARTNERSHIP_KEY, assessment_at_step, plan_in_force, story

from contracts import decode, encode
from contracts.envelope import Envelope
from contracts.topology import PUBLISHES, OrgKind
from services.domain.aggregates import event_id_for
from services.domain.identity import person_key
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE
from services.la.translation import LaContract
from services.sharing.relay import Stamp

DISAGREEMENT = [
    (
        "disagreement.seek_mediation_advice",
        {"case_id": "856-C-2", "sought_on": "2025-05-01", "stage": "assessment"},
    ),
    (
        "disagreement.hold_mediation",
        {"case_id": "856-C-2", "held_on": "2025-05-20", "stage": "assessment",
         "agreement_reached": "false"},
    ),
    (
        "disagreement.register_appeal",
        {"case_id": "856-C-2", "appeal_id": "856-T-1", "registered_on": "2025-06-16",
         "stage": "assessment"},
    ),
    (
        "disagreement.decide_appeal",
        {"case_id": "856-C-2", "appeal_id": "856-T-1", "decided_on": "2025-12-01",
         "outcome": "upheld"},
    ),
    (
        "disagreement.receive_complaint",
        {"nhs_number": NHS_NUMBER, "complaint_id": "856-K-1", "received_on": "2025-06-02",
         "subject": "ehc_process"},
    ),
    (
        "disagreement.resolve_complaint",
        {"complaint_id": "856-K-1", "resolved_on": "2025-07-11", "outcome": "partly_upheld"},
    ),
]
"""What SEN2 records about disagreement, and a complaint: the LA's disagreement commands."""

EVERY_COMMAND = [
    *story(),
    *story(case="856-C-2", plan="856-P-2")[1:3],
    (
        "ehc.request_advice",
        {
            "case_id": "856-C-2",
            "advice_request_id": "856-A-1",
            "requested_on": "2025-02-12",
            "advice_giver": "health",
            "requested_from": "QK1",
        },
    ),
    (
        "ehc.decide_not_to_issue",
        {"case_id": "856-C-2", "decided_on": "2025-04-20", "reason": "withdrawn"},
    ),
    (
        "ehc.hold_annual_review",
        {"plan_id": "856-P-1", "held_on": "2026-05-01", "preparing_for_adulthood": True},
    ),
    (
        "ehc.decide_review_outcome",
        {
            "plan_id": "856-P-1",
            "review_held_on": "2026-05-01",
            "decided_on": "2026-05-20",
            "outcome": "amend",
        },
    ),
    (
        "ehc.amend_plan",
        {
            "plan_id": "856-P-1",
            "amended_on": "2026-07-10",
            "trigger": "annual_review",
            "review_held_on": "2026-05-01",
        },
    ),
    (
        "ehc.cease_plan",
        {"plan_id": "856-P-1", "ceased_on": "2026-07-31", "reason": "moved_to_another_la"},
    ),
    (
        "transition.assign_named_worker",
        {"nhs_number": NHS_NUMBER, "assigned_on": "2025-03-01", "worker_role": "send_officer"},
    ),
    (
        "transition.agree_plan",
        {"nhs_number": NHS_NUMBER, "agreed_on": "2026-03-02", "partners": "856;QK1"},
    ),
    (
        "adult_social_care.complete_transition_assessment",
        {"nhs_number": NHS_NUMBER, "completed_on": "2026-08-05", "likely_eligible_needs": "true"},
    ),
    (
        "ap.commission_placement",
        {
            "nhs_number": NHS_NUMBER,
            "placement_id": "AP1-000017",
            "commissioned_on": "2025-09-01",
            "provider": "AP001",
            "tier": "2",
            "reason": "exclusion",
        },
    ),
    plan_in_force(),
    assessment_at_step(),
    *DISAGREEMENT,
    (
        "person.erase",
        {"nhs_number": NHS_NUMBER, "erased_on": "2026-09-01", "reason": "data_subject_request"},
    ),
]


def translated(app: LaApplication, translate: LaContract, start: int = 1) -> list[Envelope]:
    """What `translate` makes of the stored events from notification `start` on, in log order."""
    envelopes = []
    for n in app.recorder.select_notifications(start=start, limit=1000):
        event = app.mapper.to_domain_event(n)
        stamp = Stamp(
            event_id_for(event.originator_id, event.originator_version),
            "856",
            n.id,
            event.timestamp,
        )
        if (envelope := translate(event, stamp)) is not None:
            envelopes.append(envelope)
    return envelopes


def shared_envelopes(app: LaApplication) -> list[Envelope]:
    for name, fields in EVERY_COMMAND:
        app.execute(LA_CATALOGUE.parse(name, fields))
    return translated(app, LaContract(app, PARTNERSHIP_KEY))


def test_every_la_event_becomes_a_valid_contract_event_the_la_may_publish(
    la_app: LaApplication,
) -> None:
    envelopes = shared_envelopes(la_app)
    types = {e.type for e in envelopes}
    # then every type in the LA's part of the topology was produced, and nothing else
    assert types == PUBLISHES[OrgKind.LA]
    for envelope in envelopes:
        assert decode(encode(envelope)) == envelope


def test_shared_events_carry_the_pseudonym_and_birth_month_only(la_app: LaApplication) -> None:
    envelopes = shared_envelopes(la_app)
    wire = b"".join(encode(e) for e in envelopes)
    assert {e.person_key for e in envelopes} == {person_key(NHS_NUMBER, PARTNERSHIP_KEY)}
    for secret in (NHS_NUMBER.encode(), b"Amelia", b"Okonkwo", b"2011-04-17"):
        assert secret not in wire
    registered = next(e for e in envelopes if e.type == "person.registered")
    assert registered.payload.model_dump() == {"birth_month": "2011-04"}


def test_occurred_at_is_the_statutory_date_and_cases_correlate(la_app: LaApplication) -> None:
    envelopes = shared_envelopes(la_app)
    issued = next(e for e in envelopes if e.type == "ehc.plan_issued")
    requested = next(
        e
        for e in envelopes
        if e.type == "ehc.assessment_requested" and e.payload.case_id == "856-C-1"
    )
    assert issued.occurred_at.isoformat() == "2025-05-19T00:00:00+00:00"
    assert issued.correlation_id == requested.correlation_id


class CountedReads:
    """The application's repository `get`, counting the aggregates rebuilt from the store."""

    def __init__(self, app: LaApplication) -> None:
        self.real, self.reads = app.repository.get, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        return self.real(*args, **kwargs)


def test_a_translator_that_followed_the_log_from_the_start_reads_nothing_back(
    la_app: LaApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the LA stored every kind of event, and a translator that reads from the first one
    for name, fields in EVERY_COMMAND:
        la_app.execute(LA_CATALOGUE.parse(name, fields))
    reads = CountedReads(la_app)
    monkeypatch.setattr(la_app.repository, "get", reads)
    # when it translates the whole log
    envelopes = translated(la_app, LaContract(la_app, PARTNERSHIP_KEY))
    # then every event names the person and its case or plan, learnt on the way: no store reads
    assert reads.reads == 0
    assert {e.person_key for e in envelopes} == {person_key(NHS_NUMBER, PARTNERSHIP_KEY)}
    plan_events = [e for e in envelopes if e.type in ("ehc.annual_review_held", "ehc.plan_ceased")]
    assert [e.payload.plan_id for e in plan_events] == ["856-P-1", "856-P-1"]


def test_a_translator_restarted_mid_log_reads_the_store_and_shares_the_same_events(
    la_app: LaApplication,
) -> None:
    # given the whole log translated by a translator that followed it from the start
    for name, fields in EVERY_COMMAND:
        la_app.execute(LA_CATALOGUE.parse(name, fields))
    everything = translated(la_app, LaContract(la_app, PARTNERSHIP_KEY))
    # when a fresh translator (a restarted relay) starts after the registrations and requests,
    # and one that may remember only one aggregate reads it all
    middle = everything[len(everything) // 2].source_position
    restarted = translated(la_app, LaContract(la_app, PARTNERSHIP_KEY), start=middle)
    forgetful = translated(la_app, LaContract(la_app, PARTNERSHIP_KEY, remember=1))
    # then they share exactly the same events
    assert restarted == [e for e in everything if e.source_position >= middle]
    assert forgetful == everything
