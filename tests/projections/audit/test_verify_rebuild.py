"""Verifying a live read model against a from-scratch rebuild, and finding where they diverge.

The live store is damaged the ways a read model goes wrong in practice: a row edited by hand,
an event the runner never applied, facts left stale by a derivation bug. Each is made directly
in the live SQLite file, as the damage itself would be.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import decode
from projections.audit.verify import LiveStoreMissing, verify_projection
from projections.catalogue import projection_named
from projections.reading.projection import StreamEvent
from projections.reading.rebuild import rebuild
from sendx.demo.population import WireEvent
from tests.projections.audit.conftest import (
    child_known_to_everyone,
    publish_wire,
    run_sendx_audit,
    tiny_population,
)

DATASET = projection_named("dataset")
PERSON = child_known_to_everyone(tiny_population())
"""A child with a plan, and events from their LA, the ICB or trust and a provider."""

pytestmark = pytest.mark.integration


def people_events(population: tuple[WireEvent, ...], person: str) -> list[StreamEvent]:
    return [StreamEvent(seq, decode(w.data)) for seq, w in enumerate(population, 1)
            if w.subject.endswith(person)]


async def live_store(nc: Client, path: Path) -> Path:
    store = DATASET.open_store(path)
    try:
        await rebuild(nc, store)
    finally:
        store.close()
    return path


async def test_the_live_runners_read_model_equals_a_rebuild(
    js: JetStreamContext, nc: Client, live, tmp_path: Path
) -> None:
    # given the live dataset runner caught up with the realistic population
    await publish_wire(js, tiny_population())
    await live.caught_up()

    # when the auditor verifies it
    check = await verify_projection(nc, DATASET, live.db_path, tmp_path)

    # then every table's digest matches a rebuild to the same stream sequence
    assert check.agrees and check.divergence is None
    assert check.position == len(tiny_population())
    assert {"person_events", "ehc_plans", "projection_position"} <= set(check.digests)


async def test_an_edited_row_is_reported_with_its_table_rows_and_the_event_behind_it(
    nc: Client, population: tuple[WireEvent, ...], tmp_path: Path, nats_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given someone changed a plan's primary need directly in the live store
    path = await live_store(nc, tmp_path / "live.sqlite")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE ehc_plans SET primary_need = 'EDITED' WHERE person_key = ?", (PERSON,))

    # when the auditor verifies
    check = await verify_projection(nc, DATASET, path, tmp_path)

    # then the table and both versions of the row are shown, and the event the true row was
    # derived from is named as where they part
    assert not check.agrees
    (difference,) = check.differences
    assert difference.table == "ehc_plans"
    assert [r["primary_need"] for r in difference.only_live] == ["EDITED"]
    assert [r["person_key"] for r in difference.only_rebuilt] == [PERSON]
    history = people_events(population, PERSON)
    issued = next(e for e in history if e.envelope.type == "ehc.plan_issued")
    assert check.divergence is not None
    assert (check.divergence.stream_seq, check.divergence.event_type) == (
        issued.seq, "ehc.plan_issued")
    assert "derived by other code or edited" in check.divergence.why

    # and the command fails, printing the same
    status = await run_sendx_audit("verify", "--projection", "dataset", "--no-chain",
                                   "--store", f"dataset={path}", "--nats", nats_url)
    out = capsys.readouterr().out
    assert status == 1
    assert "dataset: live read model DIFFERS from a rebuild to stream sequence" in out
    assert "table ehc_plans:" in out and "'primary_need': 'EDITED'" in out
    assert (f"first divergent event: stream sequence {issued.seq}, "
            f"event {issued.envelope.event_id}") in out


async def test_an_event_the_live_store_never_applied_is_named(
    nc: Client, population: tuple[WireEvent, ...], tmp_path: Path
) -> None:
    # given the live store lacks one of the person's events (a runner that skipped it)
    path = await live_store(nc, tmp_path / "live.sqlite")
    skipped = people_events(population, PERSON)[12]
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM person_events WHERE event_id = ?",
                   (str(skipped.envelope.event_id),))

    # when the auditor verifies
    check = await verify_projection(nc, DATASET, path, tmp_path)

    # then that very event is the first divergence
    assert check.divergence is not None
    assert (check.divergence.stream_seq, check.divergence.event_id, check.divergence.person_key) \
        == (skipped.seq, str(skipped.envelope.event_id), PERSON)
    assert check.divergence.why == "the live read model never applied this event"


async def test_stale_facts_name_the_first_event_whose_effect_is_missing(
    nc: Client, population: tuple[WireEvent, ...], tmp_path: Path
) -> None:
    # given the live store holds all the person's events but facts derived only from those
    # before their plan was issued (a derivation that stopped refreshing them)
    path = await live_store(nc, tmp_path / "live.sqlite")
    history = people_events(population, PERSON)
    issued_at = next(i for i, e in enumerate(history) if e.envelope.type == "ehc.plan_issued")
    stale = DATASET.open_store(tmp_path / "stale.sqlite")
    try:
        stale.apply_batch(history[:issued_at])
        stale_facts = stale.facts()
        tables = stale.derivation.tables
    finally:
        stale.close()
    with sqlite3.connect(path) as db:
        for table in tables:
            db.execute(f"DELETE FROM {table.name} WHERE person_key = ?", (PERSON,))
            db.executemany(table.insert, [table.to_sql(row) for row in stale_facts[table.name]
                                          if row.person_key == PERSON])

    # when the auditor verifies
    check = await verify_projection(nc, DATASET, path, tmp_path)

    # then the plan's issue is named: the live rows are what the events before it derive
    assert check.divergence is not None
    assert (check.divergence.stream_seq, check.divergence.event_type) == (
        history[issued_at].seq, "ehc.plan_issued")
    assert f"what their first {issued_at} event(s) derive" in check.divergence.why


async def test_verifying_a_store_that_does_not_exist_is_refused(
    nc: Client, tmp_path: Path
) -> None:
    # when the auditor points at a store that is not there, then nothing is created
    with pytest.raises(LiveStoreMissing, match="pass --store dataset=PATH"):
        await verify_projection(nc, DATASET, tmp_path / "nowhere.sqlite", tmp_path)
    assert not (tmp_path / "nowhere.sqlite").exists()

