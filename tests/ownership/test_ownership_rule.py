"""The one rule every reader applies to a partner's claims (runtime.ownership), the birth month
the read models take (projections.dataset.registrations), and the chain audit setting refused
claims aside (projections.audit.tamper), and a case, plan, referral, placement or timetable acted
on only once its source opened it for that person (projections.reading.applying, against a real
SQLite store). No server."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from contracts import Envelope, Payload, encode
from contracts.chain import bytes_hash
from contracts.ehc import PlanCeased
from contracts.health import EhcPlanFlagSet
from contracts.person import PersonErased
from contracts.subjects import event_subject
from projections.audit.stream import StoredMessage
from projections.audit.tamper import chain_findings, link_of
from projections.dataset.registrations import birth_month_of, conflicts, registered
from projections.dataset.store import DatasetStore
from projections.reading.applying import decode_and_apply
from projections.reading.batch import RawEvent, decode_batch
from runtime.ownership import refusal
from tests.projections.conftest import EventFactory

EVENTS = EventFactory()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def by(org: str, payload: Payload, position: int = 1, prev_hash: str | None = None) -> Envelope:
    return Envelope.wrap(payload, source_org=org, person_key=EVENTS.person("kai"),
                         occurred_at=NOW, source_position=position, prev_hash=prev_hash)


def test_an_la_may_issue_a_plan_but_a_school_or_a_trust_may_not() -> None:
    assert refusal(EVENTS.plan_issued("kai", date(2025, 1, 6), la="856")) is None
    assert refusal(EVENTS.plan_issued("kai", date(2025, 1, 6), la="120001")) == (
        "ehc.plan_issued from 120001: a provider may not publish it "
        "(contracts.topology.PUBLISHES[PROVIDER]; kinds that may: la)"
    )
    ceased = by("RT5", PlanCeased(plan_id="856-P-1", ceased_on=date(2025, 2, 1),
                                  reason="needs_met"))
    assert refusal(ceased).startswith("ehc.plan_ceased from RT5: a icb may not publish it")


def test_health_may_not_say_a_school_maintains_a_plan() -> None:
    assert refusal(by("QK1", EhcPlanFlagSet(set_on=date(2025, 1, 6), la_code="856"))) is None
    flagged = by("QK1", EhcPlanFlagSet(set_on=date(2025, 1, 6), la_code="120001"))
    assert refusal(flagged) == (
        "health.ehc_plan_flag_set from QK1: payload.la_code 120001 names a provider, "
        "not a local authority"
    )


def test_every_kind_may_erase_what_it_shared() -> None:
    erased = PersonErased(erased_on=date(2025, 1, 6), reason="data_subject_request")
    assert [refusal(by(org, erased)) for org in ("856", "QK1", "120001")] == [None, None, None]


def test_a_refused_claim_is_invalid_in_a_batch_with_the_reason_and_the_rest_applies() -> None:
    forged = EVENTS.plan_issued("kai", date(2025, 1, 6), la="120001")
    genuine = EVENTS.plan_issued("kai", date(2025, 1, 6), la="856")
    raws = [RawEvent(seq, _subject(e), encode(e)) for seq, e in ((1, forged), (2, genuine))]
    batch = decode_batch(raws, after=0)
    assert [(i, e.reason) for i, e in batch.invalid] == [(0, "not_permitted")]
    assert [e.envelope.event_id for e in batch.events] == [genuine.event_id]
    assert batch.highest == 2


def test_a_plan_is_acted_on_only_after_its_source_issued_it_in_the_store_or_the_batch(
    tmp_path: Path,
) -> None:
    # given a dataset store that holds LA 856's plan P1 for kai
    store = DatasetStore(tmp_path / "dataset.sqlite")
    issued = EVENTS.plan_issued("kai", date(2025, 1, 6), plan="P1")
    decode_and_apply(store, [RawEvent(1, _subject(issued), encode(issued))], after=0)
    # when a batch reviews P1, ceases P2 before issuing it, issues P3 and reviews it, and
    # LA 855 amends "P1" (a plan of 856's)
    batch = [
        EVENTS.review_held("kai", date(2026, 1, 5), plan="P1"),
        EVENTS.plan_ceased("kai", date(2026, 1, 6), plan="P2"),
        EVENTS.plan_issued("kai", date(2025, 1, 6), plan="P2"),
        EVENTS.plan_issued("kai", date(2025, 2, 6), plan="P3"),
        EVENTS.review_held("kai", date(2026, 2, 5), plan="P3"),
        EVENTS.plan_amended("kai", date(2026, 2, 6), la="855", plan="P1"),
    ]
    raws = [RawEvent(seq, _subject(e), encode(e)) for seq, e in enumerate(batch, start=2)]
    outcome = decode_and_apply(store, raws, after=1, commit_invalid=True)
    # then only the cessation before its plan and the other LA's amendment are refused
    assert [(i, reason) for i, reason, _ in outcome.invalid] == [
        (1, "not_permitted"), (5, "not_permitted")]
    assert "payload.plan_id P2 names a plan 856 never issued" in outcome.invalid[0][2]
    assert "payload.plan_id P1 names a plan 855 never issued" in outcome.invalid[1][2]
    assert (outcome.applied, outcome.position) == (4, 7)
    store.close()


def test_each_step_needs_the_case_referral_or_placement_its_source_opened_for_that_person(
    tmp_path: Path,
) -> None:
    # given a dataset store that holds LA 856's request (case C1) and RT5's referral R1 for kai
    store = DatasetStore(tmp_path / "dataset.sqlite")
    opened = [EVENTS.assessment_requested("kai", date(2025, 1, 6)),
              EVENTS.referral_made("kai", date(2025, 1, 7))]
    decode_and_apply(store, _raws(opened), after=0)
    # when a batch holds each kind of step, on what was opened and on what was not
    steps = [
        EVENTS.assessment_decided("kai", date(2025, 2, 1)),                       # 0 C1: kept
        EVENTS.assessment_decided("kai", date(2025, 2, 1), case="C9"),            # 1 refused
        EVENTS.assessment_decided("kai", date(2025, 2, 1), la="855"),             # 2 refused
        EVENTS.assessment_decided("ben", date(2025, 2, 1)),                       # 3 refused
        EVENTS.plan_in_force("kai", date(2020, 3, 2), case="G1", plan="GP1"),     # 4 go-live
        EVENTS.plan_not_issued("kai", date(2025, 4, 1), case="G1"),               # 5 kept
        EVENTS.review_held("kai", date(2025, 3, 1), plan="GP1"),                  # 6 kept
        EVENTS.assessment_started("kai", date(2025, 3, 1)),                       # 7 R1: kept
        EVENTS.referral_closed("kai", date(2025, 3, 1), referral="R2"),           # 8 refused
        EVENTS.assessment_started("kai", date(2025, 3, 1), by="QK1"),             # 9 refused
        EVENTS.diagnosis("kai", date(2025, 5, 1), referral="R7", referral_org="QK1"),  # 10 kept
        EVENTS.diagnosis("kai", date(2025, 5, 1), referral="R7"),                 # 11 refused
        _migrated(EVENTS.placement_started("kai", date(2024, 9, 2))),             # 12 go-live
        EVENTS.placement_ended("kai", date(2025, 4, 4)),                          # 13 kept
        EVENTS.placement_ended("kai", date(2025, 4, 4), placement="AP-2"),        # 14 refused
        EVENTS.timetable_ended("kai", date(2025, 4, 4)),                          # 15 refused
    ]
    outcome = decode_and_apply(store, _raws(steps, start=3), after=2, commit_invalid=True)
    # then each step on something its source never opened for kai is refused, naming the
    # field and its value, and the rest is applied
    refused = {i: why for i, reason, why in outcome.invalid if reason == "not_permitted"}
    assert sorted(refused) == [1, 2, 3, 8, 9, 11, 14, 15]
    assert refused[1] == (
        "ehc.assessment_decided from 856: payload.case_id C9 names a case 856 never opened for "
        "this person (no earlier ehc.assessment_requested or ehc.plan_in_force_recorded of "
        "856's about them on the stream)")
    assert "payload.case_id C1 names a case 855 never opened" in refused[2]
    assert "payload.referral_id R2 names a referral RT5 never received" in refused[8]
    assert "payload.referral_id R1 names a referral QK1 never received" in refused[9]
    assert "payload.referral_id R7 names a referral RT5 never received" in refused[11]
    assert "payload.placement_id AP-2 names a placement AP001 never started" in refused[14]
    assert "payload.timetable_id T1 names a timetable 120001 never started" in refused[15]
    assert outcome.applied == len(steps) - len(refused)
    store.close()


def test_the_chain_audit_names_a_refused_claim_not_the_sources_next_genuine_event() -> None:
    # given a school whose first event on the stream is a plan published around its relay
    # (no predecessor, position 1), then its relay's genuine first two events
    forged = by("120001", _plan())
    first = by("120001", EVENTS.registered("kai", "2011-04", by="120001").payload)
    second = by("120001", _erased(), position=2, prev_hash=bytes_hash(encode(first)))
    stored = [StoredMessage(seq, _subject(e), encode(e), NOW)
              for seq, e in enumerate((forged, first, second), 1)]
    # when the chains are checked
    findings, heads = chain_findings(link_of(m) for m in stored)
    # then the forged plan alone is named, and the school's chain is its genuine events
    assert [(f.kind, f.stream_seq, f.source_org) for f in findings] == [
        ("not_permitted", 1, "120001")]
    assert [(h.source_org, h.events, h.stream_seq) for h in heads] == [("120001", 2, 3)]


def test_no_registration_overwrites_another_organisations_birth_month() -> None:
    months = registered({}, "120001", "2016-01")
    months = registered(months, "856", "2005-03")
    months = registered(months, "856", "2007-07")  # the LA's first registration stands
    assert months == {"120001": "2016-01", "856": "2005-03"}
    # the responsible LA's month first, else the earliest registration that has one
    assert birth_month_of(months, "856") == "2005-03"
    assert birth_month_of(months, None) == "2016-01"
    assert birth_month_of(months, "855") == "2016-01"
    # an organisation that erased the person has no claim left, and does not conflict
    erased = registered({"120001": None}, "120001", None)
    assert birth_month_of({**erased, "856": "2005-03"}, None) == "2005-03"
    assert [(c.org, c.birth_month) for c in conflicts("p", months)] == [
        ("120001", "2016-01"), ("856", "2005-03")]
    assert list(conflicts("p", {"856": "2005-03", "QK1": "2005-03", "120001": None})) == []


def _raws(envelopes: list[Envelope], start: int = 1) -> list[RawEvent]:
    return [RawEvent(seq, _subject(e), encode(e)) for seq, e in enumerate(envelopes, start)]


def _migrated(envelope: Envelope) -> Envelope:
    """The same fact recorded at go-live from the organisation's existing system."""
    payload = envelope.payload.model_copy(update={"migrated_from": "sims"})
    return envelope.model_copy(update={"payload": payload})


def _plan() -> Payload:
    return EVENTS.plan_issued("kai", date(2025, 1, 6), la="120001").payload


def _erased() -> Payload:
    return PersonErased(erased_on=date(2025, 1, 6), reason="other")


def _subject(envelope: Envelope) -> str:
    return event_subject(envelope.source_org, envelope.type, envelope.person_key)
