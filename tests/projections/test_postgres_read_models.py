"""The read models on PostgreSQL answer exactly as on SQLite, behind the same queries.

Needs a PostgreSQL reachable at SENDX_TEST_POSTGRES_DSN (`make test` starts one); without it
these tests are skipped, saying so (and fail in CI, where it must be there). Each test works in
its own schema (`postgres_schema`), dropped afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

import pytest

from projections.dataset.areas import Partnership
from projections.dataset.indicators import (
    active_plans,
    advice_timeliness,
    alternative_provision,
    amendment_timeliness,
    health_waits,
)
from projections.dataset.periods import Month, months_between
from projections.dataset.store import DatasetStore
from projections.reading.projection import StreamEvent
from projections.serving.processes import read_model_dsn, store_location
from projections.tracker.queries import tracker_rows, tracker_summary
from projections.tracker.store import TRACKER, TrackerStore
from runtime.settings import Settings

LLR = Partnership.of()
MONTHS = months_between(Month(2025, 1), Month(2025, 12))


@pytest.fixture
def pg_dataset(postgres_dsn: str, postgres_schema: str) -> Iterator[DatasetStore]:
    store = DatasetStore(postgres_dsn, schema=postgres_schema)
    yield store
    store.close()


@pytest.fixture
def pg_tracker(postgres_dsn: str, postgres_schema: str) -> Iterator[TrackerStore]:
    """The tracker in a schema of its own (each read model keeps its own position)."""
    import psycopg

    schema = f"{postgres_schema}_tracker"
    store = TrackerStore(postgres_dsn, schema=schema)
    yield store
    store.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def history(events) -> list:  # noqa: ANN001
    return [
        events.registered("amira", "2010-09"),
        events.assessment_requested("amira", date(2025, 1, 6)),
        events.assessment_decided("amira", date(2025, 2, 17)),
        events.advice_returned("amira", date(2025, 3, 20)),
        events.advice_requested("amira", date(2025, 2, 18)),
        events.plan_issued("amira", date(2025, 5, 26)),
        events.health_flag_set("amira", date(2025, 6, 3)),
        events.review_held("amira", date(2025, 11, 20), adulthood=True),
        events.plan_amended("amira", date(2025, 12, 1), review=date(2025, 11, 20)),
        events.referral_made("ben", date(2025, 1, 2)),
        events.assessment_started("ben", date(2025, 7, 1)),
        events.placement_started("cara", date(2025, 2, 3)),
        events.placement_ended("cara", date(2025, 6, 30)),
        events.registered("dev", "2009-03"),
        events.diagnosis("dev", date(2020, 1, 1), "learning_disability"),
    ]


def test_postgres_and_sqlite_give_the_same_answers(
    pg_dataset, pg_tracker, store, tracker_store, events
) -> None:
    # given the same events, shuffled and duplicated into PostgreSQL and into SQLite
    arrived = history(events) * 2
    random.Random(3).shuffle(arrived)
    for read_model in (pg_dataset, pg_tracker, store, tracker_store):
        for seq in range(0, len(arrived), 4):
            batch = [StreamEvent(seq + i + 1, e) for i, e in enumerate(arrived[seq : seq + 4])]
            read_model.apply_batch(batch)
    # then the facts, the positions and every answer agree
    assert pg_dataset.facts() == store.facts()
    assert pg_tracker.facts() == tracker_store.facts()
    assert pg_dataset.position() == store.position() == len(arrived)
    for fn in (
        active_plans.active_plans,
        advice_timeliness.advice_timeliness,
        health_waits.health_waits,
        alternative_provision.alternative_provision,
        amendment_timeliness.amendment_timeliness,
    ):
        assert fn(pg_dataset, MONTHS, LLR) == fn(store, MONTHS, LLR)
    as_of = date(2025, 12, 31)
    assert tracker_rows(pg_tracker, as_of, LLR) == tracker_rows(tracker_store, as_of, LLR)
    assert tracker_summary(pg_tracker, as_of, LLR) == tracker_summary(tracker_store, as_of, LLR)


def test_on_postgres_a_redelivery_changes_nothing_and_the_position_survives_a_restart(
    postgres_dsn: str, postgres_schema: str, pg_dataset, events, raw
) -> None:
    batch = [StreamEvent(1, events.plan_issued("amira", date(2025, 5, 2)))]
    assert pg_dataset.apply_batch(batch) == 1
    assert pg_dataset.apply_batch(batch) == 1
    assert pg_dataset.apply_batch([StreamEvent(2, batch[0].envelope)]) == 2
    pg_dataset.close()
    reopened = DatasetStore(postgres_dsn, schema=postgres_schema)
    assert reopened.position() == 2
    assert raw(reopened, "active-plans", Month(2025, 5)) == {"la_count": 1, "la_only": 1}
    reopened.close()


def test_sendx_store_postgres_puts_each_read_model_in_its_schema(monkeypatch, tmp_path) -> None:
    # given SENDX_STORE=postgres and a read-model DSN
    monkeypatch.setenv("SENDX_READ_MODEL_DSN", "postgresql://u:p@db.example:5432/sendx")
    settings = Settings(data_dir=tmp_path, store="postgres")
    # then the stores are opened there (schema sendx_<name>); SQLite stays the default
    assert store_location(settings, TRACKER) == "postgresql://u:p@db.example:5432/sendx"
    assert (
        store_location(Settings(data_dir=tmp_path), TRACKER)
        == tmp_path / "projection-tracker.sqlite"
    )


def test_the_dsn_can_come_from_the_postgres_variables_the_event_stores_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "POSTGRES_DBNAME": "sendx",
        "POSTGRES_HOST": "db",
        "POSTGRES_PORT": "5433",
        "POSTGRES_USER": "send x",
        "POSTGRES_PASSWORD": "p@ss",
    }
    monkeypatch.delenv("SENDX_READ_MODEL_DSN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert read_model_dsn() == "postgresql://send%20x:p%40ss@db:5433/sendx"
    monkeypatch.delenv("POSTGRES_DBNAME")
    with pytest.raises(ValueError, match="SENDX_READ_MODEL_DSN .* or POSTGRES_DBNAME"):
        read_model_dsn()
