"""`sendx service`, `sendx import` and `sendx command` as a partner would use them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from stories import as_rows, person_fields, story

from services.cli import main
from services.demo import write_extract
from services.la.demo import la_columns
from services.supervisor import sendx_command

pytestmark = pytest.mark.integration


@pytest.fixture
def la_service(nats_url: str, tmp_path: Path, js: object) -> Iterator[subprocess.Popen]:
    """`sendx service la --org 856` as its own process, stopped by PID."""
    env = {**os.environ, "SENDX_DATA_DIR": str(tmp_path / "data"), "NATS_URL": nats_url}
    log = open(tmp_path / "service.log", "wb")
    process = subprocess.Popen(
        sendx_command("service", "la", "--org", "856"),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while b"commands on send.cmd.856.>" not in (tmp_path / "service.log").read_bytes():
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_import_prints_each_row_and_exits_1_when_a_row_is_rejected(
    la_service: subprocess.Popen, nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a CSV extract whose last row has a bad NHS number
    rows = [
        *as_rows(story()),
        {"record_id": "r5", "command": "person.register", **person_fields("9434765918")},
    ]
    path = write_extract(rows, tmp_path / "extract.csv", la_columns())
    # when imported with the CLI
    code = main(["import", "--org", "856", "--nats", nats_url, str(path)])
    # then the report names the row, the summary counts, and the exit code says "rejected"
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "row 5 [r5]: REJECTED row 5, field nhs_number: NHS number fails the modulus-11 check digit"
        in out
    )
    assert "5 rows: 4 accepted (0 already imported), 1 rejected" in out
    # and importing the good rows again changes nothing and exits 0
    write_extract(rows[:4], path, la_columns())
    assert main(["import", "--org", "856", "--nats", nats_url, "--quiet", str(path)]) == 0
    assert "4 rows: 4 accepted (4 already imported), 0 rejected" in capsys.readouterr().out


def test_command_prints_the_reply(
    la_service: subprocess.Popen, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = orjson.dumps(person_fields()).decode()
    assert (
        main(["command", "--org", "856", "--nats", nats_url, "person.register", "--json", fields])
        == 0
    )
    assert orjson.loads(capsys.readouterr().out)["ok"] is True
    refused = main(
        [
            "command",
            "--org",
            "856",
            "--nats",
            nats_url,
            "ehc.decide_assessment",
            "--json",
            '{"case_id": "856-C-404", "decided_on": "2025-01-01", "decision": "assess"}',
        ]
    )
    assert refused == 1
    assert "no assessment request recorded by LA 856" in capsys.readouterr().err


def test_import_without_a_running_service_says_what_to_start(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_extract(as_rows(story()), tmp_path / "extract.jsonl", la_columns())
    assert main(["import", "--org", "856", "--nats", nats_url, str(path)]) == 2
    assert "is `sendx service <kind> --org 856` running?" in capsys.readouterr().err
