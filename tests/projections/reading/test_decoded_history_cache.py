"""The store remembers the people it wrote last (fold state, fact rows, decoded history), so a
new event costs one fold step and the rows that changed, not a re-read of the person's whole
history; what it stores is unchanged, whichever path it takes, and an erased person's personal
fields are not brought back from memory."""

from __future__ import annotations

import itertools
import random
import tempfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.person import PersonErased
from projections.dataset.facts import dataset_facts
from projections.dataset.store import DatasetStore
from projections.dataset.tables import DERIVATION as DATASET
from projections.reading.projection import StreamEvent
from projections.readmodel import person_events
from projections.readmodel.people import KnownPeople
from projections.tracker.store import DERIVATION as TRACKER
from projections.tracker.store import TrackerStore
from tests.projections.reading.test_order_and_redelivery import KINDS, PEOPLE

PATHS = {
    "remembered": lambda: KnownPeople(),
    "nothing kept": lambda: KnownPeople(max_people=0),
    "two people": lambda: KnownPeople(max_people=2),
}
"""Remembering everyone takes the fast path (a step per in-order event) whenever it can; the
others force the re-fold from the stored (decoded) history some or all of the time."""

dense_specs = st.lists(
    st.tuples(
        st.sampled_from(["amira", "ben"]),
        st.sampled_from(sorted(KINDS)),
        st.dates(date(2024, 1, 1), date(2026, 6, 30)),
    ),
    min_size=1,
    max_size=40,
)
"""Two people, so that each has many kinds of event: every table is exercised on both paths."""


def test_a_new_event_in_history_order_decodes_no_stored_body(
    store: DatasetStore, events, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    # given amira's first two events applied
    first = [events.registered("amira", "2010-09"),
             events.assessment_requested("amira", date(2024, 2, 1))]
    store.apply_batch([StreamEvent(i + 1, e) for i, e in enumerate(first)])
    decodes: list[str] = []
    real = person_events.decode
    monkeypatch.setattr(person_events, "decode", lambda body: decodes.append(body) or real(body))
    # when her plan arrives
    issued = events.plan_issued("amira", date(2024, 6, 1))
    store.apply_batch([StreamEvent(3, issued)])
    # then no stored body was decoded again, and the facts are those of a fold from scratch
    assert decodes == []
    assert store.facts() == dataset_facts([*first, issued])
    # and a request she made earlier (out of history order) re-folds her stored history
    advice = events.advice_requested("amira", date(2024, 1, 5))
    store.apply_batch([StreamEvent(4, advice)])
    assert len(decodes) == 3
    assert store.facts() == dataset_facts([*first, issued, advice])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=dense_specs,
    seed=st.integers(0, 2**32 - 1),
    big=st.booleans(),
    in_order=st.booleans(),
)
def test_the_fast_path_and_the_refold_give_the_same_facts(  # noqa: PLR0913
    events, specs, seed, big, in_order  # noqa: ANN001
) -> None:
    # given a partnership's events, with some duplicated, in small or large batches, either
    # shuffled or mostly in history order (so that most take the fast path)
    history = [KINDS[kind](events, person, day) for person, kind, day in specs]
    rng = random.Random(seed)
    arrived = history + rng.sample(history, k=rng.randint(0, len(history)))
    rng.shuffle(arrived)
    if in_order:
        arrived.sort(key=lambda e: (e.occurred_at, e.recorded_at, e.event_id.int))
    size = rng.randint(20, 60) if big else 1 if in_order else rng.randint(1, 4)
    batches = [
        [StreamEvent(i + 1, e) for i, e in enumerate(arrived)][start : start + size]
        for start in range(0, len(arrived), size)
    ]
    with tempfile.TemporaryDirectory() as directory:
        stores = {}
        for name, people in PATHS.items():
            dataset = DatasetStore(Path(directory) / f"{name}.sqlite")
            tracker = TrackerStore(Path(directory) / f"{name}-t.sqlite")
            dataset.people, tracker.people = people(), people()
            stores[name] = (dataset, tracker)
        # when each store takes them, remembering more or less of each person
        for batch in batches:
            for dataset, tracker in stores.values():
                dataset.apply_batch(batch)
                tracker.apply_batch(batch)
        # then every store holds exactly the facts of a fold from scratch
        by_person: dict[str, list] = {}
        for event in history:
            by_person.setdefault(event.person_key, []).append(event)
        tracked = {
            "young_people": sorted(
                (row for person, mine in by_person.items()
                 for row in TRACKER.derive(person, mine)["young_people"]),
                key=repr,
            )
        }
        for dataset, tracker in stores.values():
            assert dataset.facts() == dataset_facts(history)
            assert tracker.facts() == tracked
            dataset.close()
            tracker.close()


@pytest.mark.parametrize("derivation", [DATASET, TRACKER], ids=["dataset", "tracker"])
def test_a_step_leaves_every_table_it_does_not_name_as_it_was(events, derivation) -> None:  # noqa: ANN001
    # given a person with nothing, or with a request, a plan, a flag, a referral, a placement,
    # a timetable and a diagnosis already folded
    rich = [KINDS[kind](events, "amira", date(2024, 1, day)) for day, kind in enumerate(
        ("registered", "requested", "issued", "flag_set", "referred", "ap_started", "timetable",
         "autism", "advice_requested", "reviewed"), start=1)]
    person = events.person("amira")
    for base in ([], rich):
        for first, second in itertools.product(sorted(KINDS), repeat=2):
            # when any kind of event follows any other
            history = [*base, KINDS[first](events, "amira", date(2025, 1, 1))]
            before = derivation.fold(history)
            after = derivation.step(before, KINDS[second](events, "amira", date(2025, 6, 1)))
            # then the tables the step is said not to change are as a full derivation gives
            unchanged = set(derivation.tables) - set(derivation.changed_tables(before, after))
            old, new = derivation.facts(person, before), derivation.facts(person, after)
            assert {t.name: old[t.name] for t in unchanged} == {
                t.name: new[t.name] for t in unchanged
            }, (first, second)


def test_memory_is_bounded_in_people(tmp_path: Path, events) -> None:  # noqa: ANN001
    # given a store that may remember two people
    store = DatasetStore(tmp_path / "s.db")
    store.people = KnownPeople(max_people=2)
    history = []
    # when four people's events arrive, two each, one batch per event
    for name in sorted(PEOPLE):
        history += [events.registered(name, PEOPLE[name]),
                    events.plan_issued(name, date(2024, 6, 1))]
    for seq, event in enumerate(history, start=1):
        store.apply_batch([StreamEvent(seq, event)])
        # then it never holds more than two
        assert len(store.people) <= 2
    # and those are the two most recent, while the facts are everyone's
    remembered = {name for name in PEOPLE if store.people.get(events.person(name))}
    assert remembered == set(sorted(PEOPLE)[-2:])
    assert store.facts() == dataset_facts(history)


def test_a_new_event_rewrites_only_the_rows_it_changes(store: DatasetStore, events) -> None:  # noqa: ANN001
    # given amira with a request, a plan and a health flag
    history = [events.registered("amira", "2010-09"),
               events.assessment_requested("amira", date(2024, 2, 1)),
               events.plan_issued("amira", date(2024, 6, 1)),
               events.health_flag_set("amira", date(2024, 7, 1))]
    store.apply_batch([StreamEvent(i, e) for i, e in enumerate(history, start=1)])
    statements: list[str] = []
    store.db._writer.set_trace_callback(statements.append)
    # when her plan ceases
    ceased = events.plan_ceased("amira", date(2025, 3, 1))
    store.apply_batch([StreamEvent(5, ceased)])
    # then only her plan row is rewritten; no other fact table is touched
    tables = {t.name for t in store.derivation.tables}
    written = [s for s in statements if any(f" {t} " in f"{s} " for t in tables)]
    assert written and all("ehc_plans" in s for s in written)
    assert store.facts() == dataset_facts([*history, ceased])


def test_a_person_another_writer_changed_is_read_again(tmp_path: Path, events) -> None:  # noqa: ANN001
    # given two stores on one file (a partition handed to another worker), the first
    # remembering ben
    first, second = DatasetStore(tmp_path / "s.db"), DatasetStore(tmp_path / "s.db")
    requested = events.assessment_requested("ben", date(2024, 2, 1))
    first.apply_batch([StreamEvent(1, requested)], partition="p0-of-2")
    # when the other writes ben's plan, then the first his cessation
    issued = events.plan_issued("ben", date(2024, 6, 1))
    second.apply_batch([StreamEvent(2, issued)], partition="p1-of-2")
    ceased = events.plan_ceased("ben", date(2025, 3, 1))
    first.apply_batch([StreamEvent(3, ceased)], partition="p0-of-2")
    # then the facts include the plan the first store never saw
    assert first.facts() == dataset_facts([requested, issued, ceased])


def test_an_erased_person_is_forgotten_in_memory(tmp_path: Path, events) -> None:  # noqa: ANN001
    # given cara's registration and diagnosis, remembered by the store
    store = DatasetStore(tmp_path / "s.db")
    store.apply_batch([StreamEvent(1, events.registered("cara", "2008-02")),
                       StreamEvent(2, events.diagnosis("cara", date(2024, 3, 1)))])
    assert store.people.get(events.person("cara")) is not None
    # when she is erased, and a plan arrives afterwards
    erased = events.wrap(PersonErased(erased_on=date(2026, 1, 5), reason="data_subject_request"),
                         "cara", "856", date(2026, 1, 5))
    store.apply_batch([StreamEvent(3, erased)])
    assert store.people.get(events.person("cara")) is None
    store.apply_batch([StreamEvent(4, events.plan_issued("cara", date(2026, 2, 1)))])
    # then nothing of her is held in memory, her stored events are withheld, and the facts
    # equal those of a rebuild from the stored events
    assert store.people.get(events.person("cara")) is None
    with store.db.read() as tx:
        rows = tx.execute("SELECT stream_seq, body FROM person_events ORDER BY stream_seq")
        stored = [StreamEvent(seq, person_events.decode(body)) for seq, body in rows.fetchall()]
    rebuilt = DatasetStore(tmp_path / "r.db")
    rebuilt.apply_batch(stored)
    assert store.facts() == rebuilt.facts()
    # (each organisation erases what it published: the LA's erasure withholds the LA's fields)
    assert all(e.erased for e in (s.envelope for s in stored) if e.type != "person.erased"
               and e.payload.personal_fields and e.source_org == erased.source_org)


def test_a_large_batch_derives_each_person_once(store: DatasetStore, events) -> None:  # noqa: ANN001
    # given a catch-up batch of 3,000 events about three people
    names = ("amira", "ben", "cara")
    history = [
        events.review_held(names[i % 3], date(2024, 1, 1) + timedelta(days=i))
        for i in range(3_000)
    ]
    derived: list[str] = []
    original = store.derivation

    def counted(person: str, state):  # noqa: ANN001, ANN202
        derived.append(person)
        return original.rows["annual_reviews"](person, state)

    store.derivation = replace(original, rows={**original.rows, "annual_reviews": counted})
    # when it is applied in one go
    store.apply_batch([StreamEvent(i, e) for i, e in enumerate(history, start=1)])
    # then each person's facts were derived once, and are those of a fold from scratch
    assert sorted(derived) == sorted(events.person(name) for name in names)
    assert store.facts() == dataset_facts(history)
