"""`sendx service`, `sendx import` and `sendx command` as a partner would use them: against the
secured embedded server, logged in as the organisation's partner system (`la-856-client`, whose
password `sendx import` finds in the data directory as `sendx run` leaves it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest
from openpyxl import Workbook
from stories import as_rows, person_fields, story

from contracts.topology import OrgKind
from runtime.bus.credentials import credentials_for, embedded_auth
from runtime.bus.nats_server import NatsServer, free_port
from sendx.cli import main
from sendx.commands.nats import create_streams
from sendx.demo.extracts import columns_for, write_extract
from sendx.supervisor import sendx_command
from tests.waiting import logged_sync

pytestmark = pytest.mark.integration


@dataclass
class Secured:
    server: NatsServer
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    def env(self, **extra: str) -> dict[str, str]:
        """A partner's shell beside the embedded server: its data directory, no NATS user."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("SENDX_NATS_USER", "SENDX_NATS_PASSWORD", "SENDX_PROGRESS")}
        return {**env, "SENDX_DATA_DIR": str(self.data_dir), "NATS_URL": self.url, **extra}


@pytest.fixture
def secured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Secured]:
    """The embedded server with the partnership's users (as `sendx run` starts it), streams
    created as admin; this test process is the partner's shell (no SENDX_NATS_USER)."""
    data_dir = tmp_path / "data"
    server = NatsServer(store_dir=data_dir / "nats", auth=embedded_auth(data_dir)).start()
    try:
        asyncio.run(create_streams(server.url, credentials=credentials_for("admin", data_dir)))
        monkeypatch.setenv("SENDX_DATA_DIR", str(data_dir))
        monkeypatch.setenv("NATS_URL", server.url)
        for name in ("SENDX_NATS_USER", "SENDX_NATS_PASSWORD", "SENDX_PROGRESS"):
            monkeypatch.delenv(name, raising=False)
        yield Secured(server, data_dir)
    finally:
        server.stop()


@pytest.fixture
def la_service(secured: Secured, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`sendx service la --org 856` as its own process and its own NATS user, stopped by PID."""
    login = credentials_for("856", secured.data_dir)
    env = secured.env(SENDX_NATS_USER=login["user"], SENDX_NATS_PASSWORD=login["password"])
    log_path = tmp_path / "service.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        sendx_command("service", "la", "--org", "856"), env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        logged_sync(process, log_path, "commands on send.cmd.856.>")
        yield process
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def sendx(secured: Secured, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`sendx ...` typed in the partner's shell (stderr not a terminal)."""
    return subprocess.run(
        sendx_command(*args), env=secured.env(**env), capture_output=True, text=True, timeout=120
    )


def one_line(stderr: str) -> str:
    """What the user sees on failure: exactly one line, no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_import_as_the_client_names_each_rejected_row_once_and_exits_1(
    la_service: subprocess.Popen, secured: Secured, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a CSV extract whose last row has a bad NHS number
    rows = [
        *as_rows(story()),
        {"record_id": "r5", "command": "person.register", **person_fields("9434765918")},
    ]
    path = write_extract(rows, tmp_path / "extract.csv", columns_for(OrgKind.LA))
    # when imported with the CLI, logged in as la-856-client from the data directory
    code = main(["import", "--org", "856", str(path)])
    # then the report names the row once, the summary counts, and the exit code says "rejected"
    captured = capsys.readouterr()
    assert code == 1
    assert (
        "row 5 [r5]: REJECTED field nhs_number: NHS number fails the modulus-11 check digit"
        in captured.out.splitlines()
    )
    assert "5 rows: 4 accepted (0 already imported), 1 rejected" in captured.out
    # and progress went to stderr as plain lines (not a terminal), first and last
    assert "import: extract.csv to organisation 856 0/5 rows (0%)" in captured.err
    assert "import: extract.csv to organisation 856 5/5 rows (100%)" in captured.err
    # and importing the good rows again changes nothing and exits 0
    write_extract(rows[:4], path, columns_for(OrgKind.LA))
    assert main(["import", "--org", "856", "--quiet", str(path)]) == 0
    assert "4 rows: 4 accepted (4 already imported), 0 rejected" in capsys.readouterr().out


def test_command_as_the_client_prints_the_reply(
    la_service: subprocess.Popen, secured: Secured, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = orjson.dumps(person_fields()).decode()
    assert main(["command", "--org", "856", "person.register", "--json", fields]) == 0
    assert orjson.loads(capsys.readouterr().out)["ok"] is True
    refused = main([
        "command", "--org", "856", "ehc.decide_assessment",
        "--json", '{"case_id": "856-C-404", "decided_on": "2025-01-01", "decision": "assess"}',
    ])
    assert refused == 1
    assert "no assessment request recorded by LA 856" in capsys.readouterr().err


def test_semicolon_and_excel_extracts_are_imported_with_the_same_report(
    la_service: subprocess.Popen, secured: Secured, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given the story as a semicolon CSV (a European spreadsheet's export)
    first, *rest = as_rows(story())
    semicolon = tmp_path / "extract-semicolon.csv"
    semicolon.write_text(
        "record_id;command;nhs_number;given_name;family_name;born_on\n"
        f"{first['record_id']};{first['command']};{first['nhs_number']};Amelia;Okonkwo;"
        "2011-04-17\n", encoding="utf-8",
    )
    assert main(["import", "--org", "856", str(semicolon)]) == 0
    assert "1 rows: 1 accepted (0 already imported), 0 rejected" in capsys.readouterr().out
    # and the rest as an Excel workbook, dates as date cells, with one date typed as text
    workbook = Workbook()
    sheet = workbook.active
    columns = columns_for(OrgKind.LA)
    sheet.append(columns)
    for row in rest:
        sheet.append([_excel_cell(row.get(c)) for c in columns])
    sheet.append([{"record_id": "r9", "command": "ehc.decide_assessment", "case_id": "856-C-1",
                   "decided_on": "05/01/2026", "decision": "assess"}.get(c) for c in columns])
    xlsx = tmp_path / "extract.xlsx"
    workbook.save(xlsx)
    # when imported
    code = main(["import", "--org", "856", str(xlsx)])
    # then the workbook's rows get the same per-row report; the typed date is refused with
    # the expected format and the value
    out = capsys.readouterr().out
    assert code == 1
    assert "4 rows: 3 accepted (0 already imported), 1 rejected" in out
    assert ("row 4 [r9]: REJECTED field decided_on: expected a date as YYYY-MM-DD (e.g. "
            "2026-01-05 for 5 January 2026), got '05/01/2026'") in out


def _excel_cell(value: object) -> object:
    """What a partner's spreadsheet holds: real date cells for ISO dates."""
    from datetime import date

    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return date.fromisoformat(value)
    return value


def test_an_empty_extract_is_an_error_before_anything_is_sent(
    secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert main(["import", "--org", "856", str(empty)]) == 2
    assert f"{empty}: the file is empty" in capsys.readouterr().err
    header_only = tmp_path / "header.csv"
    header_only.write_text("record_id,command,nhs_number\n", encoding="utf-8")
    assert main(["import", "--org", "856", str(header_only)]) == 2
    assert "only a header, no rows to import" in capsys.readouterr().err


def test_without_a_running_service_the_client_is_told_what_to_start(
    secured: Secured, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_extract(as_rows(story()), tmp_path / "extract.jsonl", columns_for(OrgKind.LA))
    assert main(["import", "--org", "856", str(path)]) == 2
    assert "is `sendx service <kind> --org 856` running?" in capsys.readouterr().err


def test_a_wrong_password_ends_with_one_line_naming_server_user_and_fix(
    secured: Secured,
) -> None:
    done = sendx(secured, "command", "--org", "856", "person.register", "--json", "{}",
                 SENDX_NATS_USER="la-856-client", SENDX_NATS_PASSWORD="not-the-password")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith(
        f"sendx command: error: NATS at {secured.url} refused user la-856-client"
    )
    assert "set SENDX_NATS_USER=la-856-client and SENDX_NATS_PASSWORD" in line


def test_no_login_on_a_secured_server_says_which_variables_to_set(
    secured: Secured, tmp_path: Path
) -> None:
    # given a shell whose data directory holds no credentials
    elsewhere = tmp_path / "elsewhere"
    done = sendx(secured, "command", "--org", "856", "person.register", "--json", "{}",
                 SENDX_DATA_DIR=str(elsewhere))
    line = one_line(done.stderr)
    assert done.returncode == 2
    assert f"NATS at {secured.url} refused no user (SENDX_NATS_USER unset)" in line
    assert ("set SENDX_NATS_USER=la-856-client and SENDX_NATS_PASSWORD (organisation 856's "
            "partner-system login), or SENDX_DATA_DIR to the folder holding "
            "nats-credentials.json") in line


def test_a_dead_url_ends_at_the_timeout_with_one_line(secured: Secured, tmp_path: Path) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    path = write_extract(as_rows(story()), tmp_path / "extract.csv", columns_for(OrgKind.LA))
    done = sendx(secured, "import", "--org", "856", "--nats", dead, str(path),
                 SENDX_CLI_TIMEOUT="1")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith(
        f"sendx import: error: no NATS server answered at {dead} for user la-856-client "
        "within 1 s"
    )
    assert "check --nats or NATS_URL" in line


def test_another_organisations_client_is_refused_at_once(
    la_service: subprocess.Popen, secured: Secured
) -> None:
    # given Rutland's partner system sending to Leicester's service
    login = credentials_for("la-857-client", secured.data_dir)
    done = sendx(secured, "command", "--org", "856", "person.register",
                 "--json", orjson.dumps(person_fields()).decode(),
                 SENDX_NATS_USER=login["user"], SENDX_NATS_PASSWORD=login["password"])
    # then the server's refusal is reported (not a wait for a reply that cannot come)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "NATS refused la-857-client sending to send.cmd.856.person.register" in line
    assert "SENDX_NATS_USER=<kind>-856-client" in line


def test_version_comes_from_the_package_metadata() -> None:
    done = subprocess.run([sys.executable, "-m", "sendx.cli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"sendx {version('send-exchange')}"
