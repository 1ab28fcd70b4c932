"""`sendx run`'s projectors: one OS process per projection (`Supervisor.launch_projectors`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from projections.catalogue import CATALOGUE
from projections.reading.projection import ProjectionStore
from projections.serving.processes import open_store
from sendx.supervisor import Supervisor
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_each_projection_runs_in_a_process_of_its_own_and_keeps_its_read_model_current(
    nats_url: str, publish, events, tmp_path: Path
) -> None:
    # given the projectors started as `sendx run` starts them
    data = tmp_path / "data"
    supervisor = Supervisor(tmp_path / "logs")
    env = {"NATS_URL": nats_url, "SENDX_DATA_DIR": str(data), "SENDX_STORE": "sqlite",
           "SENDX_METRICS_PORT": "0"}
    names = [p.name for p in CATALOGUE]
    try:
        started = supervisor.launch_projectors(names, env)
        # when a young person's registration and plan are published
        await publish(events.registered("amira", "2011-04"))
        await publish(events.plan_issued("amira", date(2020, 3, 2)))
        # then every read model reaches both events
        for projection in CATALOGUE:
            path = data / f"projection-{projection.name}.sqlite"

            def created(path: Path = path) -> bool:
                supervisor.check()
                return path.exists()

            await eventually(created, 60, what=f"{path.name} created", interval=0.1)
            store = open_store(projection, path)
            try:

                def applied(store: ProjectionStore = store) -> bool:
                    supervisor.check()
                    return store.position() >= 2

                await eventually(applied, 60, what=f"{projection.name} at 2", interval=0.1)
            finally:
                store.close()
        # and each was applied by its own process, which ran that projection alone
        assert [p.name for p in started] == [f"projector-{name}" for name in names]
        assert len({p.pid for p in started}) == len(names)
        assert all(p.alive() for p in started)
    finally:
        supervisor.stop_all()
    for process, name in zip(started, names, strict=True):
        log = process.log.read_text()
        assert f"projection-{name} starting" in log
        assert all(f"projection-{other} starting" not in log for other in names if other != name)
