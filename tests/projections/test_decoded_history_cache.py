"""The store remembers the envelopes it decoded from its own stored bodies, so re-deriving a
person does not re-validate their whole history; what it derives is unchanged, and an erased
person's personal fields are not brought back from memory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.person import PersonErased
from projections.dataset.store import DatasetStore
from projections.projection import StreamEvent
from projections.readmodel import store as store_module
from projections.readmodel.store import DecodedBodies


def test_re_deriving_a_person_decodes_no_stored_body_again(
    store: DatasetStore, events, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    first = [events.registered("amira", "2010-09"),
             events.assessment_requested("amira", date(2024, 2, 1))]
    store.apply_batch([StreamEvent(i + 1, e) for i, e in enumerate(first)])
    decodes: list[str] = []
    real = store_module.decode
    monkeypatch.setattr(store_module, "decode", lambda body: decodes.append(body) or real(body))
    store.apply_batch([StreamEvent(3, events.plan_issued("amira", date(2024, 6, 1)))])
    assert decodes == []


def test_facts_equal_a_store_without_the_cache(tmp_path: Path, events) -> None:  # noqa: ANN001
    history = [events.registered("ben", "2011-04"),
               events.plan_issued("ben", date(2024, 6, 1)),
               events.assessment_requested("ben", date(2024, 2, 1)),
               events.diagnosis("ben", date(2024, 3, 1))]
    cached, uncached = DatasetStore(tmp_path / "a.db"), DatasetStore(tmp_path / "b.db")
    uncached.decoded = DecodedBodies(max_events=0)
    for seq, event in enumerate(history, start=1):
        cached.apply_batch([StreamEvent(seq, event)])
        uncached.apply_batch([StreamEvent(seq, event)])
    assert cached.facts() == uncached.facts()
    assert len(cached.decoded) == len(history) and len(uncached.decoded) == 0


def test_an_erased_person_is_forgotten_by_the_cache(tmp_path: Path, events) -> None:  # noqa: ANN001
    store = DatasetStore(tmp_path / "s.db")
    store.apply_batch([StreamEvent(1, events.registered("cara", "2008-02")),
                       StreamEvent(2, events.diagnosis("cara", date(2024, 3, 1)))])
    erased = events.wrap(PersonErased(erased_on=date(2026, 1, 5), reason="data_subject_request"),
                         "cara", "856", date(2026, 1, 5))
    store.apply_batch([StreamEvent(3, erased)])
    store.apply_batch([StreamEvent(4, events.plan_issued("cara", date(2026, 2, 1)))])
    rebuilt = DatasetStore(tmp_path / "r.db")
    rebuilt.decoded = DecodedBodies(max_events=0)
    with store.db.read() as tx:
        rows = tx.execute("SELECT stream_seq, body FROM person_events ORDER BY stream_seq")
        stored = [StreamEvent(seq, store_module.decode(body)) for seq, body in rows.fetchall()]
    rebuilt.apply_batch(stored)
    assert store.facts() == rebuilt.facts()
    assert all(e.erased for e in (s.envelope for s in stored) if e.type != "person.erased"
               and e.payload.personal_fields)


def test_the_cache_keeps_at_most_its_bound_of_events(events) -> None:  # noqa: ANN001
    kept = DecodedBodies(max_events=3)
    for name in ("amira", "ben", "cara"):
        e1 = events.registered(name, "2010-09")
        e2 = events.assessment_requested(name, date(2024, 2, 1))
        rows = [(str(e.event_id), store_module.encode(e).decode()) for e in (e1, e2)]
        kept.history(events.person(name), rows, {}, {})
        assert len(kept) <= 3
