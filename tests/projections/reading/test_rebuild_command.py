"""`sendx rebuild`: one read model into a new file, or several from one read of the stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from projections.audit.digest import differences, store_contents
from projections.catalogue import projection_named
from projections.dataset.periods import Month
from projections.dataset.store import SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.tracker.store import TRACKER
from sendx.cli import main
from tests.projections.audit.conftest import publish_wire, tiny_population

pytestmark = pytest.mark.integration


async def test_several_projections_are_rebuilt_into_a_directory_from_one_command(
    nats_url: str, publish, events, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given two children registered, each with a plan
    for name in ("amira", "ben"):
        await publish(events.registered(name, "2011-04"))
        await publish(events.plan_issued(name, date(2025, 5, 2)))
    # when an operator rebuilds the dataset and the tracker into a new directory
    out = tmp_path / "rebuilt"
    status = await asyncio.to_thread(main, [
        "rebuild", str(out), "--projection", "dataset", "--projection", "tracker",
        "--nats", nats_url,
    ])
    # then each store is there, up to the last event, and the command says so for each
    assert status == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"applied 4 events up to stream sequence 4 into {out / f'projection-{name}.sqlite'} "
        "(0 recorded later, 0 invalid)"
        for name in ("dataset", "tracker")
    ]
    dataset = SqliteDatasetStore(out / "projection-dataset.sqlite")
    tracker = TRACKER.open_store(out / "projection-tracker.sqlite")
    assert exact_counts(dataset, "active-plans", Month(2025, 5), "856")["la_count"] == 2
    assert tracker.position() == 4
    dataset.close()
    tracker.close()
    # and running it again is refused, naming the store that exists
    again = await asyncio.to_thread(main, [
        "rebuild", str(out), "--projection", "dataset", "--projection", "tracker",
        "--nats", nats_url,
    ])
    assert again == 2
    assert "projection-dataset.sqlite exists" in capsys.readouterr().err


@pytest.fixture
def rebuild_prefix(postgres_dsn: str) -> Iterator[str]:
    """A schema prefix of this test's own; the schemas a rebuild makes with it are dropped."""
    import psycopg

    prefix = f"t_{uuid.uuid4().hex[:10]}_"
    try:
        yield prefix
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            for name in ("dataset", "tracker"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{prefix}{name}" CASCADE')


async def test_a_national_rebuild_goes_into_new_postgresql_schemas_by_several_fold_workers(
    nats_url: str, js: JetStreamContext, postgres_dsn: str, rebuild_prefix: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # given the tiny partnership on the stream, rebuilt into SQLite files by one worker each
    await publish_wire(js, tiny_population()[:1500])
    by_file = tmp_path / "by-file"
    names = ("dataset", "tracker")
    picked = [arg for name in names for arg in ("--projection", name)]
    by_files = ["rebuild", str(by_file), *picked, "--nats", nats_url]
    assert await asyncio.to_thread(main, by_files) == 0
    capsys.readouterr()
    # when an operator rebuilds both into PostgreSQL with three fold workers per store
    status = await asyncio.to_thread(main, [
        "rebuild", postgres_dsn, *picked, "--schema-prefix", rebuild_prefix,
        "--fold-workers", "3", "--nats", nats_url,
    ])
    # then each new schema holds exactly what the files hold, and the command names the schemas
    assert status == 0
    assert capsys.readouterr().out.splitlines() == [
        f"applied 1500 events up to stream sequence 1500 into PostgreSQL schema "
        f"{rebuild_prefix}{name} (0 recorded later, 0 invalid)"
        for name in names
    ]
    for name in names:
        projection = projection_named(name)
        in_file = projection.open_store(by_file / f"projection-{name}.sqlite")
        in_schema = projection.open_store(postgres_dsn, schema=f"{rebuild_prefix}{name}")
        assert differences(store_contents(in_file), store_contents(in_schema)) == []
        in_file.close()
        in_schema.close()
    # and a second rebuild into the same schemas is refused, naming the schema that exists
    again = await asyncio.to_thread(main, [
        "rebuild", postgres_dsn, *picked, "--schema-prefix", rebuild_prefix, "--nats", nats_url,
    ])
    assert again == 2
    assert f"PostgreSQL schema {rebuild_prefix}dataset exists" in capsys.readouterr().err


def test_several_fold_workers_into_one_sqlite_file_are_refused_before_reading_the_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["rebuild", str(tmp_path / "x.sqlite"), "--fold-workers", "2",
                   "--nats", "nats://127.0.0.1:1"])
    assert status == 2
    assert "--fold-workers 2 needs a PostgreSQL store" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite").exists()
