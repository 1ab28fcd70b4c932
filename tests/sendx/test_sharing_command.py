"""`sendx sharing check` and `sendx sharing explain`: what the person keeping the agreement sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendx.cli import main

VALID_CLAUSE = """
[[clause]]
id = "icb-plans"
recipient = "QK1"
sources = ["la"]
events = ["ehc.plan_issued"]
cohort = "mentioned"
purpose = "keep the ICB's plan flag in step"
lawful_basis = ["UK GDPR Art. 6(1)(e)"]
retention = "8 years"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agreements.toml"
    path.write_text(f'[agreement]\nid = "test"\ntitle = "test agreement"\n{body}')
    return path


def test_the_shipped_agreement_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sharing", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("agreement llr-send-2026 (")
    assert "4 clauses for QK1, 856, 855, 857" in out


def test_check_names_every_problem_against_the_topology(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = VALID_CLAUSE.replace('sources = ["la"]', 'sources = ["provider"]') + """
[[clause]]
id = "la-diagnoses"
recipient = "856"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "caseload"
caseload_from = ["health.referral_made"]
purpose = "diagnoses for the caseload"
lawful_basis = ["UK GDPR Art. 6(1)(e)"]
retention = "8 years"
"""
    assert main(["sharing", "check", "--agreement", str(write(tmp_path, bad))]) == 1
    err = capsys.readouterr().err
    assert "clause icb-plans: source provider (provider) does not publish ehc.plan_issued" in err
    assert ("clause la-diagnoses: the recipient 856 (la) does not publish health.referral_made, "
            "so it cannot mark a caseload") in err
    assert ("clause la-diagnoses: health events are special category data: the lawful basis "
            "needs an Article 9(2) condition") in err
    assert "3 problem(s)" in err


def test_check_refuses_a_clause_without_a_lawful_basis_or_with_unknown_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_basis = VALID_CLAUSE.replace('lawful_basis = ["UK GDPR Art. 6(1)(e)"]', "lawful_basis = []")
    assert main(["sharing", "check", "--agreement", str(write(tmp_path, no_basis))]) == 1
    assert "has no lawful basis" in capsys.readouterr().err
    extra = VALID_CLAUSE + 'colour = "blue"\n'
    assert main(["sharing", "check", "--agreement", str(write(tmp_path, extra))]) == 1
    assert "clause.0.colour: Extra inputs are not permitted" in capsys.readouterr().err


def test_explain_says_what_an_organisation_receives_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sharing", "explain", "856"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "856 (Leicester City Council) receives, under agreement llr-send-2026 "
        "(LLR SEND information sharing agreement 2026):"
    )
    assert "- health.diagnosis_recorded" in out
    assert "from QK1 NHS Leicester, Leicestershire and Rutland ICB, RT5 Leicestershire " \
           "Partnership NHS Trust" in out
    assert "about people on its caseload (from its own ehc.assessment_requested, " \
           "ehc.assessment_step_recorded, ehc.plan_in_force_recorded)" in out
    assert "UK GDPR Art. 9(2)(h)" in out and "Children and Families Act 2014 s.23" in out
    assert ("it may read the personal field(s) condition, opened for it under a key of its own "
            "that is deleted when either side erases the person;") in out
    assert main(["sharing", "explain", "RT5"]) == 0
    assert capsys.readouterr().out.strip() == (
        "RT5 (Leicestershire Partnership NHS Trust) receives nothing under agreement "
        "llr-send-2026."
    )
    assert main(["sharing", "explain", "999"]) == 2
    assert "organisation '999' is not in the partnership" in capsys.readouterr().err


DIAGNOSES = """
[[clause]]
id = "la-diagnoses"
recipient = "856"
sources = ["icb"]
events = ["health.diagnosis_recorded"]
cohort = "everyone"
purpose = "diagnoses for the caseload"
lawful_basis = ["UK GDPR Art. 6(1)(e)", "UK GDPR Art. 9(2)(h)"]
retention = "8 years"
"""


def test_check_refuses_opening_a_field_that_is_not_a_personal_field_of_the_clause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a clear field, a personal field of another type, and the clause's own personal field
    opens = DIAGNOSES + 'open_fields = ["diagnosed_on", "birth_month", "condition"]\n'
    assert main(["sharing", "check", "--agreement", str(write(tmp_path, opens))]) == 1
    err = capsys.readouterr().err
    assert ("clause la-diagnoses: open_fields: diagnosed_on is not a personal field of "
            "health.diagnosis_recorded (their personal fields: condition)") in err
    assert ("clause la-diagnoses: open_fields: birth_month is not a personal field of "
            "health.diagnosis_recorded (their personal fields: condition)") in err
    assert "condition is not" not in err
    assert "2 problem(s)" in err
    plans = VALID_CLAUSE + 'open_fields = ["condition"]\n'
    assert main(["sharing", "check", "--agreement", str(write(tmp_path, plans))]) == 1
    assert ("clause icb-plans: open_fields: condition is not a personal field of "
            "ehc.plan_issued (their personal fields: none)") in capsys.readouterr().err


def test_explain_says_which_personal_fields_stay_sealed_without_open_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, DIAGNOSES)
    assert main(["sharing", "check", "--agreement", str(path)]) == 0
    capsys.readouterr()
    assert main(["sharing", "explain", "856", "--agreement", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  sealed, and unreadable to it: condition;" in out
    assert "may read" not in out
