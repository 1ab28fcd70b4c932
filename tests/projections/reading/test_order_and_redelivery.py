"""Order and exactly-once: however events arrive (shuffled, duplicated, redelivered, in batches
of any size), the read models answer exactly as a fold from scratch of the same events sorted
by when they happened; a batch either commits with its stream position or not at all."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import Envelope
from projections.dataset import indicators
from projections.dataset.areas import Partnership
from projections.dataset.facts import dataset_facts
from projections.dataset.periods import Month, months_between
from projections.dataset.store import DatasetStore
from projections.reading.projection import StreamEvent
from projections.tracker.queries import tracker_rows
from projections.tracker.store import TrackerStore

LLR = Partnership.of()
MONTHS = months_between(Month(2024, 1), Month(2026, 6))
AS_OF = (date(2024, 6, 30), date(2025, 9, 1), date(2026, 6, 30))
PEOPLE = {"amira": "2010-09", "ben": "2011-04", "cara": "2008-02", "dev": "2012-12"}
MONTHLY = tuple(spec.query for spec in indicators.MONTHLY)

Kind = Callable[..., Envelope]
KINDS: dict[str, Callable[[object, str, date], Envelope]] = {
    "registered": lambda e, p, d: e.registered(p, PEOPLE[p]),
    "requested": lambda e, p, d: e.assessment_requested(p, d),
    "decided": lambda e, p, d: e.assessment_decided(p, d),
    "advice_requested": lambda e, p, d: e.advice_requested(p, d),
    "advice_returned": lambda e, p, d: e.advice_returned(p, d),
    "issued": lambda e, p, d: e.plan_issued(p, d),
    "issued_855": lambda e, p, d: e.plan_issued(p, d, la="855", plan="P9", case="C9"),
    "ceased": lambda e, p, d: e.plan_ceased(p, d),
    "reviewed": lambda e, p, d: e.review_held(p, d, adulthood=True),
    "amended": lambda e, p, d: e.plan_amended(p, d, review=d - timedelta(days=60)),
    "post16_amended": lambda e, p, d: e.plan_amended(p, d, trigger="post16_transfer"),
    "flag_set": lambda e, p, d: e.health_flag_set(p, d),
    "flag_cleared": lambda e, p, d: e.health_flag_cleared(p, d),
    "referred": lambda e, p, d: e.referral_made(p, d),
    "assessed": lambda e, p, d: e.assessment_started(p, d),
    "ap_started": lambda e, p, d: e.placement_started(p, d, part_time=True),
    "ap_ended": lambda e, p, d: e.placement_ended(p, d),
    "timetable": lambda e, p, d: e.timetable_started(p, d),
    "timetable_ended": lambda e, p, d: e.timetable_ended(p, d),
    "autism": lambda e, p, d: e.diagnosis(p, d),
    "ld": lambda e, p, d: e.diagnosis(p, d, "learning_disability"),
    "named_worker": lambda e, p, d: e.named_worker(p, d),
    "transition_plan": lambda e, p, d: e.transition_plan(p, d),
    "health_check": lambda e, p, d: e.health_check(p, d),
    "care_summary": lambda e, p, d: e.care_summary(p, d),
    "asc": lambda e, p, d: e.asc_assessment(p, d),
    "adult_referral": lambda e, p, d: e.adult_referral(p, d),
    "transferred": lambda e, p, d: e.transferred(p, d),
    "destination": lambda e, p, d: e.destination(p, d, d + timedelta(days=150)),
}

event_specs = st.lists(
    st.tuples(
        st.sampled_from(sorted(PEOPLE)),
        st.sampled_from(sorted(KINDS)),
        st.dates(date(2024, 1, 1), date(2026, 6, 30)),
    ),
    min_size=1,
    max_size=40,
)


def answers(dataset: DatasetStore, tracker: TrackerStore) -> dict:
    """What a user can ask: every indicator by month, and the tracker on three days."""
    found = {fn.__name__: fn(dataset, MONTHS, LLR).figures for fn in MONTHLY}
    found |= {f"tracker {day}": tracker_rows(tracker, day, LLR).people for day in AS_OF}
    return found


def deliver(events: list[Envelope], rng: random.Random, *stores) -> int:  # noqa: ANN002
    """Shuffle, duplicate some, cut into batches of random sizes, redeliver some batches."""
    arrived = events + rng.sample(events, k=rng.randint(0, len(events)))
    rng.shuffle(arrived)
    seq = 0
    while arrived:
        size = rng.randint(1, 7)
        batch = [StreamEvent(seq + i + 1, e) for i, e in enumerate(arrived[:size])]
        arrived, seq = arrived[size:], seq + len(batch)
        for store in stores:
            store.apply_batch(batch)
            if rng.random() < 0.3:  # redelivered after a lost ack: at or below the position
                assert store.apply_batch(batch) == seq
    return seq


def from_scratch(events: list[Envelope], directory: Path) -> tuple[DatasetStore, TrackerStore]:
    """A fresh fold of the events sorted by occurred_at, each once, in one batch."""
    unique = sorted({e.event_id: e for e in events}.values(), key=lambda e: e.occurred_at)
    dataset, tracker = (
        DatasetStore(directory / "ref.sqlite"),
        TrackerStore(directory / "ref-t.sqlite"),
    )
    for store in (dataset, tracker):
        store.apply_batch([StreamEvent(i, e) for i, e in enumerate(unique, start=1)])
    return dataset, tracker


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=event_specs, seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_gives_the_answers_of_a_fold_from_scratch(events, specs, seed) -> None:
    # given a partnership's events
    history = [KINDS[kind](events, person, day) for person, kind, day in specs]
    with tempfile.TemporaryDirectory() as directory:
        live = DatasetStore(Path(directory) / "live.sqlite")
        live_tracker = TrackerStore(Path(directory) / "live-t.sqlite")
        # when they arrive shuffled, duplicated, in batches, some batches redelivered
        last = deliver(history, random.Random(seed), live, live_tracker)
        reference, reference_tracker = from_scratch(history, Path(directory))
        # then the facts and every answer equal those of a fold from scratch
        assert live.position() == live_tracker.position() == last
        assert live.facts() == dataset_facts(history) == reference.facts()
        assert answers(live, live_tracker) == answers(reference, reference_tracker)
        for store in (live, live_tracker, reference, reference_tracker):
            store.close()


@pytest.mark.slow
def test_a_realistic_population_in_any_order_equals_a_fold_from_scratch(tmp_path) -> None:
    # given the bench's tiny partnership (about 3,000 events as the bus delivers them)
    from contracts import decode
    from sendx.demo.population import generate_wire

    history = [decode(wire.data) for wire in generate_wire("tiny", 3)]
    live, live_tracker = DatasetStore(tmp_path / "d.sqlite"), TrackerStore(tmp_path / "t.sqlite")
    # when a quarter arrive twice, all shuffled, in small batches with redeliveries
    deliver(history, random.Random(11), live, live_tracker)
    reference, reference_tracker = from_scratch(history, tmp_path)
    # then every answer is that of a fold from scratch
    assert answers(live, live_tracker) == answers(reference, reference_tracker)


def test_a_redelivered_batch_changes_neither_the_facts_nor_the_position(
    store, tracker_store, events
) -> None:
    # given a batch applied at stream sequences 1-2
    batch = [
        StreamEvent(1, events.registered("amira", "2011-04")),
        StreamEvent(2, events.plan_issued("amira", date(2020, 3, 2))),
    ]
    for read_model in (store, tracker_store):
        assert read_model.apply_batch(batch) == 2
    facts = (store.facts(), tracker_store.facts())
    # when it is redelivered (a crash between commit and ack), then nothing changes
    for read_model in (store, tracker_store):
        assert read_model.apply_batch(batch) == 2
    assert (store.facts(), tracker_store.facts()) == facts


def test_a_batch_that_fails_leaves_facts_and_position_as_they_were(store, events) -> None:
    # given one plan applied at sequence 1
    store.apply_batch([StreamEvent(1, events.plan_issued("amira", date(2025, 5, 2)))])
    before = store.facts()
    # when a batch touching amira, ben and cara fails part way (cara's derivation raises)
    original = store.derivation

    def failing(person: str, state):  # noqa: ANN001, ANN202
        if person == events.person("cara"):
            raise RuntimeError("disk full")
        return original.rows["ehc_plans"](person, state)

    batch = [
        StreamEvent(2, events.plan_ceased("amira", date(2025, 9, 1))),
        StreamEvent(3, events.plan_issued("ben", date(2025, 5, 3))),
        StreamEvent(4, events.plan_issued("cara", date(2025, 5, 4))),
    ]
    store.derivation = replace(original, rows={**original.rows, "ehc_plans": failing})
    with pytest.raises(RuntimeError, match="disk full"):
        store.apply_batch(batch)
    # then neither ben's plan nor amira's cessation nor the position moved: they commit
    # together or not at all
    assert (store.position(), store.facts()) == (1, before)
    # and once the fault is gone the redelivered batch applies in full, as a fold from scratch
    store.derivation = original
    assert store.apply_batch(batch) == 4
    assert store.facts() == dataset_facts(
        [events.plan_issued("amira", date(2025, 5, 2)), *(e.envelope for e in batch)]
    )


def test_a_new_derivation_version_rederives_every_fact_from_stored_events(tmp_path, events) -> None:
    # given a store written by an older version of the fold
    path = tmp_path / "dataset.sqlite"
    old = DatasetStore(path)
    history = [
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.plan_issued("amira", date(2025, 5, 26)),
    ]
    old.apply_batch([StreamEvent(i, e) for i, e in enumerate(history, start=1)])
    with old.db.write() as tx:
        tx.execute("DELETE FROM ehc_plans")
        tx.execute("UPDATE projection_position SET fold_version = 1")
    old.close()
    # when the current version opens it, then the facts are derived again, position kept
    reopened = DatasetStore(path)
    assert reopened.facts() == dataset_facts(history)
    assert reopened.position() == 2
    reopened.close()
