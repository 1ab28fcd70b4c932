"""No identifiers or impossible dates through the side door (issue 14, item 4), attack by
attack, as a partner system meets them: `sendx command` logged in as the LA's own client
(`la-856-client`, from the data directory) against `sendx service la` on the secured embedded
server. Each refusal is one line naming the field, the rule and (for dates) the value; a
reference that may itself be an identifier is named by field and rule only, never echoed."""

from __future__ import annotations

import subprocess

import orjson
import pytest
from stories import story

from sendx.cli import main
from tests.services.test_cli import la_service, secured  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

REGISTER, REQUEST, DECIDE, ISSUE = story()
CASE = REQUEST[1]["case_id"]


def command(name: str, **fields: object) -> int:
    return main(["command", "--org", "856", name, "--json", orjson.dumps(fields).decode()])


def refused(capsys: pytest.CaptureFixture[str], name: str, **fields: object) -> str:
    """The one line a refused command prints (exit 1, nothing on stdout)."""
    assert command(name, **fields) == 1
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.err, out.err
    return lines[0]


def accepted(capsys: pytest.CaptureFixture[str], name: str, **fields: object) -> None:
    assert command(name, **fields) == 0, capsys.readouterr().err
    assert orjson.loads(capsys.readouterr().out)["ok"] is True


@pytest.fixture
def registered(la_service: subprocess.Popen,  # noqa: F811  (the imported fixture)
               capsys: pytest.CaptureFixture[str]) -> None:
    """`sendx service la --org 856` running, Amelia (born 2011-04-17) registered."""
    accepted(capsys, REGISTER[0], **REGISTER[1])


@pytest.fixture
def assessing(registered: None, capsys: pytest.CaptureFixture[str]) -> None:
    """... and her assessment requested and agreed."""
    for name, fields in (REQUEST, DECIDE):
        accepted(capsys, name, **fields)


@pytest.mark.parametrize(("case_id", "rule"), [
    ("9434765919", "NHS number"),
    ("856-C-943-476-5919", "NHS number"),
    ("Name_2011-04-17", "date"),
    ("856-C-Okonkwo", "name"),
    ("856-C-20110417", "date"),
])
def test_a_case_id_carrying_an_identifier_is_refused_naming_field_and_rule(
    registered: None, capsys: pytest.CaptureFixture[str], case_id: str, rule: str,
) -> None:
    line = refused(capsys, "ehc.request_assessment", **{**REQUEST[1], "case_id": case_id})
    assert "case_id" in line and rule in line
    assert case_id not in line  # an identifier is never echoed back


def test_a_date_in_a_plan_reference_is_refused(
    assessing: None, capsys: pytest.CaptureFixture[str],
) -> None:
    line = refused(capsys, "ehc.issue_plan", **{**ISSUE[1], "plan_id": "856-P-2025-05-19"})
    assert "plan_id" in line and "date" in line


def test_a_plan_issued_in_2099_is_refused_and_the_true_plan_is_then_accepted(
    assessing: None, capsys: pytest.CaptureFixture[str],
) -> None:
    line = refused(capsys, "ehc.issue_plan", **{**ISSUE[1], "issued_on": "2099-06-01"})
    assert "issued_on" in line and "2099-06-01" in line and "future" in line
    # and the true plan is accepted afterwards: the refused one left nothing behind
    accepted(capsys, ISSUE[0], **ISSUE[1])


def test_a_date_before_the_persons_birth_is_refused(
    registered: None, capsys: pytest.CaptureFixture[str],
) -> None:
    line = refused(capsys, "ehc.request_assessment", **{**REQUEST[1], "requested_on": "2010-01-01"})
    assert "requested_on" in line and "2010-01-01" in line and "birth" in line


def test_a_step_out_of_statutory_order_is_refused(
    assessing: None, capsys: pytest.CaptureFixture[str],
) -> None:
    # a plan issued before the request it answers
    line = refused(capsys, "ehc.issue_plan", **{**ISSUE[1], "issued_on": "2024-12-01"})
    assert "issued_on" in line and "2024-12-01" in line and "before the request" in line
