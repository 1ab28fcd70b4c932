"""`sendx rebuild`: one read model into a new file, or several from one read of the stream."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from projections.dataset.periods import Month
from projections.dataset.store import SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.tracker.store import TRACKER
from sendx.cli import main

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
