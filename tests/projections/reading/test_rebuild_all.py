"""Several read models rebuilt from one read of the stream (`rebuild.rebuild_all`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.subjects import event_subject
from projections.audit.digest import differences, store_contents
from projections.dataset.periods import Month
from projections.dataset.store import SqliteDatasetStore
from projections.dataset.tallies import exact_counts
from projections.reading.rebuild import rebuild, rebuild_all
from projections.tracker.store import TRACKER

pytestmark = pytest.mark.integration


async def test_one_read_of_the_stream_rebuilds_every_store_as_separate_rebuilds_would(
    nc: Client, js: JetStreamContext, publish, events, tmp_path: Path
) -> None:
    # given registrations and plans of 30 children and one message that is not JSON
    for n in range(30):
        await publish(events.registered(f"child-{n}", "2011-04"))
        await publish(events.plan_issued(f"child-{n}", date(2025, 5, 2)))
    await js.publish(event_subject("856", "ehc.plan_issued", events.person("x")), b"{oops")
    # when the dataset and the tracker are rebuilt together, in chunks of 7 messages
    together = [SqliteDatasetStore(tmp_path / "dataset.sqlite"),
                TRACKER.open_store(tmp_path / "tracker.sqlite")]
    reports = await rebuild_all(nc, together, batch_size=7)
    # then each store has applied all 60 events, and each report names the bad message
    assert [(r.position, r.applied) for r in reports] == [(61, 60), (61, 60)]
    assert [r.invalid for r in reports] == [[(61, "bad_json")], [(61, "bad_json")]]
    assert exact_counts(together[0], "active-plans", Month(2025, 5), "856")["la_count"] == 30
    # and each equals a rebuild of that store alone
    alone = [SqliteDatasetStore(tmp_path / "dataset-alone.sqlite"),
             TRACKER.open_store(tmp_path / "tracker-alone.sqlite")]
    for store in alone:
        await rebuild(nc, store)
    for one, other in zip(together, alone, strict=True):
        assert differences(store_contents(one), store_contents(other)) == []
    for store in (*together, *alone):
        store.close()


async def test_each_store_resumes_after_its_own_position(
    nc: Client, publish, events, tmp_path: Path
) -> None:
    # given a dataset store that already holds the first 10 plans, and a fresh one
    for n in range(20):
        await publish(events.plan_issued(f"child-{n}", date(2025, 5, 2)))
    ahead = SqliteDatasetStore(tmp_path / "ahead.sqlite")
    await rebuild(nc, ahead, stop_seq=10)
    fresh = SqliteDatasetStore(tmp_path / "fresh.sqlite")
    # when both are brought up to date in one read
    reports = await rebuild_all(nc, [ahead, fresh])
    # then the one ahead applied only what it lacked, and both count every plan once
    assert [(r.position, r.applied) for r in reports] == [(20, 10), (20, 20)]
    for store in (ahead, fresh):
        assert exact_counts(store, "active-plans", Month(2025, 5), "856")["la_count"] == 20
        store.close()
