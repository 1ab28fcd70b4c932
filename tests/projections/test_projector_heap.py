"""A projector's remembered people cost the garbage collector nothing: after each committed
batch they are frozen out of its generations (`projections.readmodel.heap`), so no collection
pauses a live projection to walk them. Other processes (the API, these tests) keep Python's
defaults. Each case runs in a fresh interpreter: freezing is a decision about a whole process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import gc, itertools, json, sys, tempfile
from pathlib import Path
from sendx.demo.population import generate_wire
from contracts import decode
from projections.catalogue import projection_named
from projections.reading.projection import StreamEvent
from projections.readmodel import heap
from projections.readmodel.people import KnownPerson

if sys.argv[2] == "managed":
    heap.manage()
store = projection_named(sys.argv[1]).open_store(Path(tempfile.mkdtemp()) / "store.sqlite")
wire = list(itertools.islice(generate_wire("tiny", 1), 3000))
events = [StreamEvent(i + 1, decode(w.data, subject=w.subject)) for i, w in enumerate(wire)]
for start in range(0, len(events), 250):
    store.apply_batch(events[start:start + 250])
walked = sum(1 for o in gc.get_objects() if isinstance(o, KnownPerson))
print(json.dumps({"remembered": len(store.people), "walked": walked,
                  "position": store.position(), "facts": sum(map(len, store.facts().values()))}))
"""


def probe(projection: str, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, projection, mode], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("projection", ["dataset", "tracker"])
def test_a_managed_projector_keeps_its_remembered_people_out_of_the_collector(projection):
    # given / when: the same 3,000 events applied in a projector process and in a plain one
    managed = probe(projection, "managed")
    plain = probe(projection, "plain")
    # then: both remember the same people and store the same facts at the same position
    assert managed["remembered"] == plain["remembered"] > 100
    assert (managed["position"], managed["facts"]) == (plain["position"], plain["facts"])
    # and only the plain process leaves them for the collector to walk
    assert managed["walked"] == 0
    assert plain["walked"] == plain["remembered"]
