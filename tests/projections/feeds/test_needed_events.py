"""The feed store decodes only the events its agreement can act on (`FeedStore.needs_subject`):
the others move its position undecoded, and anything it does decode is judged as before, so a
broken message a clause covers is still dead-lettered, never delivered."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contracts import encode
from contracts.subjects import event_subject
from projections.feeds.process import DEFAULT_AGREEMENT, load_agreement
from projections.feeds.store import FeedStore
from projections.reading.applying import decode_and_apply
from projections.reading.batch import RawEvent
from tests.projections.conftest import EventFactory

ON = date(2026, 3, 1)


def test_only_what_the_agreement_names_is_decoded(tmp_path: Path) -> None:
    factory = EventFactory()
    store = FeedStore(tmp_path / "feeds.sqlite")
    store.adopt(load_agreement(DEFAULT_AGREEMENT), stream_last_seq=0)
    referral = factory.referral_made("ann", ON, by="RT5")  # no clause reads an RT5 referral
    mention = factory.referral_made("ann", ON, by="QK1")  # the ICB's own: it now knows ann
    plan = factory.plan_issued("ann", ON, la="856")  # delivered to the ICB (icb-plans)
    subject = {e.event_id: event_subject(e.source_org, e.type, e.person_key)
               for e in (referral, mention, plan)}
    raws = [
        RawEvent(1, subject[referral.event_id], encode(referral)),
        RawEvent(2, subject[referral.event_id], b"{not json"),
        RawEvent(3, subject[mention.event_id], encode(mention)),
        RawEvent(4, subject[plan.event_id], encode(plan)),
        RawEvent(5, subject[plan.event_id], b"{not json"),
        RawEvent(6, "send.evt.v1.856.not-an-event", b"{}"),
    ]

    outcome = decode_and_apply(store, raws, after=0, commit_invalid=True)

    assert (outcome.applied, outcome.filtered_out) == (2, 2)
    assert [(index, reason) for index, reason, _ in outcome.invalid] == [
        (4, "bad_json"), (5, "bad_envelope")]
    assert store.position() == 6
    assert [(d.recipient, d.clause_id, d.seq) for d in store.deliveries()] == [
        ("QK1", "icb-plans", 4)]
    store.close()
