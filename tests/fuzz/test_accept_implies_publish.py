"""What a service accepts, its relay publishes: for every command of every kind, hypothesis sends
real partner stories (the demo children's rows) with fields swapped for what a careless or
hostile partner sends (Unicode digits in NHS numbers, NHS numbers, dates and names inside
references, far-future and impossible dates, oversized lists), as single commands and as
imports, to a running service on a real nats-server. Every event id any reply promised must
then be on SEND_EVENTS, and nothing may be quarantined."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from service_harness import (
    KINDS,
    LiveService,
    against_a_live_service,
    assert_clear_refusal_or_success,
    field_value,
)

from contracts.constraints import PLANNED_HORIZON, today
from contracts.topology import OrgKind
from runtime.bus.streams import EVENTS_STREAM
from sendx.demo.children import (
    DEMO_AP_PROVIDER,
    DEMO_ICB,
    DEMO_SCHOOL,
    DEMO_TODAY,
    DEMO_TRUST,
    children,
)
from sendx.demo.extracts import la_rows, rows_for
from services.domain.command import Command
from services.domain.identity import nhs_check_digit
from services.endpoint.ingest import IMPORT_COMMAND
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PROPERTY = against_a_live_service(100)
CHILDREN = children(80)


def _erasure(child: Any) -> dict[str, Any]:
    return {"record_id": f"erase-{child.ref}", "command": "person.erase",
            "nhs_number": child.nhs_number, "reason": "data_subject_request",
            "erased_on": DEMO_TODAY}


def _ending(rows: list[dict[str, Any]], child: Any) -> list[dict[str, Any]]:
    """Some stories end with the organisation erasing what it shared about the child."""
    return rows + [_erasure(child)] if rows and child.index % 3 == 0 else rows


STORIES: dict[OrgKind, list[list[dict[str, Any]]]] = {
    OrgKind.LA: [_ending(la_rows(c), c) for c in CHILDREN],
    OrgKind.ICB: [_ending(rows_for(c, DEMO_ICB) + rows_for(c, DEMO_TRUST), c) for c in CHILDREN],
    OrgKind.PROVIDER: [_ending(rows_for(c, DEMO_SCHOOL) + rows_for(c, DEMO_AP_PROVIDER), c)
                       for c in CHILDREN],
}
"""Each child's rows for one kind, in the order a partner's extract has them."""


def covering(stories: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Few stories that together send every command the others do (greedy set cover)."""
    wanted = {r["command"] for story in stories for r in story}
    chosen: list[list[dict[str, Any]]] = []
    while wanted:
        best = max(stories, key=lambda story: len(wanted & {r["command"] for r in story}))
        chosen.append(best)
        wanted -= {r["command"] for r in best}
    return chosen


def hostile_nhs_numbers() -> st.SearchStrategy[Any]:
    return st.sampled_from([
        "９４３４７６５９１９", "٩٤٣٤٧٦٥٩١٩", "۹۴۳۴۷۶۵۹۱۹", "943 476 5919", "943-476-5919",
        "9434765918", "94347659１9", 9434765919, " 9434765919 ", "943\u00a0476\u00a05919",
    ])


def hostile_references() -> st.SearchStrategy[Any]:
    return st.sampled_from([
        "9434765919", "C-943-476-5919", "856-C-9434765919", "Name_2011-04-17", "C-20110417",
        "17/04/2011", "Okonkwo", "AmeliaOkonkwo", "x" * 65, "", "856-C-1\n", "８５６-C-1",
        "856-C-١", "CASE-1", "856-C-000001", "a1b2c3", "-856", "856 C 1",
    ])


def hostile_dates() -> st.SearchStrategy[Any]:
    now = today()
    return st.sampled_from([
        now, now + timedelta(days=1), now + timedelta(days=2), date(2099, 6, 1),
        now + PLANNED_HORIZON, now + PLANNED_HORIZON + timedelta(days=1), date(1899, 12, 31),
        date(1900, 1, 1), date(1, 1, 1), date(9999, 12, 31), "2025-02-30", "20250106",
        "2025-01-06T23:59:59", 1_700_000_000, 10**12,
    ]).map(lambda d: d.isoformat() if isinstance(d, date) else d)


def hostile(field: str, command: type[Command] | None) -> st.SearchStrategy[Any]:
    """What a careless or hostile partner puts in `field` instead of the real value."""
    annotation = command.model_fields[field].annotation if command and \
        field in command.model_fields else str
    if field == "nhs_number":
        base = hostile_nhs_numbers()
    elif field.endswith("_id"):
        base = hostile_references()
    elif field.endswith("_on"):
        base = hostile_dates()
    elif field == "partners":
        base = st.sampled_from([["856"] * 51, ["856", "QK1"] * 30, "856;" * 60, ["8５6"]])
    else:
        base = st.nothing()
    return st.one_of(base, base, field_value(annotation))


FRESH = itertools.count(1)


def fresh_nhs_number() -> str:
    """A valid NHS number no story has used yet (998 range, modulus 11)."""
    while True:
        first_nine = f"998{next(FRESH):06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"


def as_new_child(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same story about a child nobody has registered yet: a new NHS number, new
    references and record ids (consistently across its rows), so the rows are recorded anew."""
    nhs, tag = fresh_nhs_number(), f"X{next(FRESH)}"
    return [
        {k: nhs if k == "nhs_number" else f"{v}-{tag}" if k.endswith("_id") else v
         for k, v in row.items()}
        for row in rows
    ]


@st.composite
def mutated_story(draw: st.DrawFn, live: LiveService) -> list[dict[str, Any]]:
    """A new child's story with, in some rows, one field swapped for a hostile value."""
    rows = as_new_child(draw(st.sampled_from(STORIES[live.kind])))
    catalogue = live.definition.catalogue
    out = []
    for row in rows:
        row = dict(row)
        command = catalogue.resolve(row["command"])
        if draw(st.booleans()):
            fields = sorted(set(row) - {"command"} | {"record_id"})
            sensitive = [f for f in fields if f == "nhs_number" or f.endswith(("_id", "_on"))]
            field = draw(st.sampled_from(sensitive if sensitive and draw(
                st.integers(0, 4)) else fields))
            row[field] = draw(hostile(field, command))
        out.append(row)
    return out


def promised_ids(answer: dict[str, Any]) -> list[str]:
    if "rows" in answer:
        return [i for r in answer["rows"] if r["accepted"] for i in r["event_ids"]]
    return list(answer.get("event_ids", []))


@pytest.fixture(params=KINDS, ids=lambda kind: kind.value)
def live_service(request, nats_url: str, js, tmp_path: Path) -> Iterator[LiveService]:
    service = LiveService(request.param, nats_url, tmp_path / "data").start()
    try:
        yield service
    finally:
        service.stop()


def published_ids(live: LiveService, wanted: set[str], timeout: float = 30) -> set[str]:
    """The event ids on SEND_EVENTS once it holds at least `wanted` many."""

    async def read() -> set[str]:
        import orjson

        js = live.nc.jetstream()

        async def enough() -> int:
            count = (await js.stream_info(EVENTS_STREAM)).state.messages
            return count if count >= len(wanted) else 0

        count = await eventually(enough, timeout, what=f"{len(wanted)} events on the stream",
                                 interval=0.1)
        return {
            str(orjson.loads((await js.get_msg(EVENTS_STREAM, seq)).data)["event_id"])
            for seq in range(1, count + 1)
        }

    return live.run(read(), timeout=timeout + 60)


def send(live: LiveService, rows: list[dict[str, Any]], as_import: bool,
         promised: dict[str, str], accepted: set[str]) -> None:
    """Send the rows (one import, or one command each); note every event id promised."""
    if as_import:
        answer = live.command(IMPORT_COMMAND, {"rows": rows})
        assert_clear_refusal_or_success(answer)
        reports = answer["rows"] if answer["ok"] else [answer] * len(rows)
    else:
        reports = [live.command(r["command"], {k: v for k, v in r.items() if k != "command"})
                   for r in rows]
    for row, report in zip(rows, reports, strict=True):
        if "ok" in report:  # a command's reply; an import row's report has "accepted"
            assert_clear_refusal_or_success(report)
        assert "internal error" not in str(report.get("error")), report
        if report.get("ok", report.get("accepted")):
            accepted.add(live.definition.catalogue.resolve(str(row["command"])).name)
        for event_id in report.get("event_ids", []):
            promised.setdefault(event_id, repr(row)[:300])


def test_every_event_a_service_accepts_is_published(live_service: LiveService) -> None:
    promised: dict[str, str] = {}
    """event id -> the row it was promised for (for the failure message)."""
    accepted: set[str] = set()
    # given partners who first send, unchanged, stories that use every command of the kind
    for story in covering(STORIES[live_service.kind]):
        send(live_service, story, False, promised, accepted)
    assert accepted == {c.name for c in live_service.definition.catalogue.commands}

    @PROPERTY
    @given(st.data())
    def partners_send(data: st.DataObject) -> None:
        # and then stories with hostile fields, as imports or as single commands
        rows = data.draw(mutated_story(live_service))
        send(live_service, rows, data.draw(st.booleans()), promised, accepted)

    partners_send()
    # when the relay has caught up, then every promised event is on the stream
    on_stream = published_ids(live_service, set(promised))
    missing = {i: promised[i] for i in set(promised) - on_stream}
    assert not missing, f"accepted but never published: {missing}"
    # and nothing is waiting in quarantine
    quarantine = live_service.command("quarantine.list", {})
    assert quarantine["ok"] and quarantine["open"] == 0, quarantine["events"]
