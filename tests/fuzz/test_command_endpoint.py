"""Every service kind's command endpoint (NATS request-reply) under random and malformed input:
always a JSON reply (ok, or ok=false with a message), never a crash, still serving afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from service_harness import (
    KINDS,
    LiveService,
    against_a_live_service,
    assert_clear_refusal_or_success,
    command_bodies,
    command_names,
    json_values,
)

from contracts.topology import OrgKind
from services.endpoint.client import ServiceClient
from services.endpoint.ingest import IMPORT_COMMAND, read_extract

pytestmark = pytest.mark.integration

FUZZ = against_a_live_service(60)
VALID_PROBES: dict[OrgKind, tuple[str, dict[str, Any]]] = {
    OrgKind.LA: (
        "person.register",
        {"nhs_number": "9434765919", "given_name": "Amelia", "family_name": "Okonkwo",
         "born_on": "2011-04-17"},
    ),
}
"""A command each kind must still accept after the fuzzing (kinds without one: liveness only)."""


@pytest.fixture(params=KINDS, ids=lambda kind: kind.value)
def live_service(request, nats_url: str, js, tmp_path: Path) -> Iterator[LiveService]:
    service = LiveService(request.param, nats_url, tmp_path / "data").start()
    try:
        yield service
    finally:
        service.stop()


def still_serving(service: LiveService) -> None:
    """The endpoint answers, and a valid command is still recorded."""
    unknown = service.command("no_such.command", {})
    assert unknown["ok"] is False and "unknown command" in unknown["error"]
    probe = VALID_PROBES.get(service.kind)
    if probe is not None:
        answer = service.command(*probe)
        assert answer["ok"] is True, answer


@st.composite
def requests(draw: st.DrawFn, service: LiveService) -> tuple[str, bytes]:
    commands = service.definition.catalogue.commands
    name = draw(command_names(commands))
    kind = draw(st.sampled_from(["fields", "fields", "json", "bytes"]))
    if kind == "bytes":
        return name, draw(st.binary(max_size=300))
    if kind == "json":
        return name, orjson.dumps(draw(json_values))
    command = service.definition.catalogue.resolve(name) if name in {
        n for c in commands for n in (c.name, *c.aliases)
    } else draw(st.sampled_from(commands))
    return name, orjson.dumps(draw(command_bodies(command)))


def test_random_commands_get_a_clear_reply_and_the_service_keeps_serving(
    live_service: LiveService,
) -> None:
    @FUZZ
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        # given a partner sending a random or malformed command
        name, body = data.draw(requests(live_service))
        # when it reaches the endpoint, then the reply is a success or a clear refusal
        assert_clear_refusal_or_success(live_service.request(name, body))

    fuzz()
    # and afterwards the service still records a valid command
    still_serving(live_service)


@st.composite
def import_bodies(draw: st.DrawFn, service: LiveService) -> Any:
    commands = service.definition.catalogue.commands
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        command = draw(st.sampled_from(commands))
        row = draw(command_bodies(command))
        if draw(st.integers(0, 4)):
            row["command"] = draw(st.sampled_from([command.name, *command.aliases]))
        row.setdefault("record_id", draw(st.text(max_size=8)))
        rows.append(draw(st.just(row) | json_values) if draw(st.integers(0, 5)) == 0 else row)
    body: Any = {"rows": rows}
    if draw(st.booleans()):
        body["row_numbers"] = draw(
            st.lists(st.integers(-3, 10**6), min_size=len(rows), max_size=len(rows)) | json_values
        )
    return draw(st.just(body) | json_values) if draw(st.integers(0, 6)) == 0 else body


def test_random_import_batches_get_a_report_per_row_or_a_clear_refusal(
    live_service: LiveService,
) -> None:
    @FUZZ
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        # given a partner system sending a malformed import batch
        body = data.draw(import_bodies(live_service))
        # when it reaches the import endpoint
        answer = live_service.command(IMPORT_COMMAND, body)
        # then it is refused clearly, or every row has its own report
        assert_clear_refusal_or_success(answer)
        if answer["ok"]:
            assert len(answer["rows"]) == len(body["rows"])
            for report in answer["rows"]:
                assert report["accepted"] or (
                    str(report["error"]).startswith(f"row {report['row']}")
                    and "internal error" not in report["error"]
                ), report

    fuzz()
    still_serving(live_service)


cells = st.one_of(
    st.text(max_size=30), st.sampled_from(["", "2025-01-06", "9434765919", "ASD", "true"]),
    st.text(alphabet=',"\n\r;', max_size=5), st.integers(140_000, 160_000).map(lambda n: "x" * n),
)


@st.composite
def csv_extracts(draw: st.DrawFn, service: LiveService) -> str:
    commands = service.definition.catalogue.commands
    columns = sorted({name for c in commands for name in c.model_fields})
    extra = draw(st.lists(st.sampled_from(columns) | st.text(max_size=8), max_size=6))
    header = ["record_id", "command", *extra]
    names = [c.name for c in service.definition.catalogue.commands]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 6))):
        row = [draw(st.text(max_size=6)), draw(st.sampled_from(names) | st.text(max_size=10))]
        row += [draw(cells) for _ in range(draw(st.integers(0, len(header) + 2)))]
        lines.append(",".join(row))
    return draw(st.just("\n".join(lines)) | st.text(max_size=300))


@st.composite
def jsonl_extracts(draw: st.DrawFn, service: LiveService) -> str:
    command = st.sampled_from(service.definition.catalogue.commands)
    lines = draw(st.lists(
        st.one_of(
            command.flatmap(command_bodies).map(orjson.dumps).map(bytes.decode),
            json_values.map(orjson.dumps).map(bytes.decode),
            st.text(max_size=40),
        ),
        max_size=6,
    ))
    return "\n".join(lines)


def test_random_extract_files_get_one_report_per_row_naming_the_row(
    live_service: LiveService, tmp_path: Path
) -> None:
    client = ServiceClient(live_service.nc, live_service.org.code, timeout=30)

    @FUZZ
    @given(st.sampled_from([".csv", ".jsonl"]).flatmap(
        lambda suffix: st.tuples(
            st.just(suffix),
            csv_extracts(live_service) if suffix == ".csv" else jsonl_extracts(live_service),
        )
    ))
    def fuzz(extract: tuple[str, str]) -> None:
        # given an extract file full of garbage, wrong types, huge cells and odd unicode
        suffix, text = extract
        path = tmp_path / f"extract{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        # when it is read and imported as `sendx import` does
        try:
            rows = list(read_extract(path))
        except ValueError as exc:  # not UTF-8: refused as a whole, naming the file
            assert str(path) in str(exc)
            return
        report = live_service.run(client.import_rows(rows, batch_size=3))
        # then every row read has exactly one report, and a refusal names its row
        assert [r["row"] for r in report.rows] == sorted(n for n, _ in rows)
        for row in report.rows:
            if not row["accepted"]:
                assert str(row["error"]).startswith(f"row {row['row']}"), row
                assert "internal error" not in row["error"] and "batch refused" not in row["error"]

    fuzz()
    still_serving(live_service)
