"""The ICB's and trust's demo extracts: deterministic, about the LAs' children, accepted whole."""

from __future__ import annotations

from collections import Counter

from sendx.demo.children import children
from sendx.demo.extracts import extract, la_rows
from services.endpoint.ingest import Ingest


def test_the_same_seed_gives_the_same_rows() -> None:
    assert extract("QK1", children(40)) == extract("QK1", children(40))


def test_every_qk1_and_rt5_demo_row_is_accepted(icb: Ingest) -> None:
    rows = extract("QK1", children(60)) + extract("RT5", children(60))
    report = icb.import_rows({"rows": rows})
    assert report["rejected"] == 0, [r for r in report["rows"] if not r["accepted"]][:3]


def test_health_answers_the_las_advice_requests_and_flags_plans_with_a_few_discrepancies() -> None:
    kids = children()
    qk1, rt5 = extract("QK1", kids), extract("RT5", kids)
    commands = Counter(r["command"] for r in qk1 + rt5)
    asked = {
        r["advice_request_id"]
        for kid in kids
        for r in la_rows(kid)
        if r["command"] == "ehc.request_advice" and r.get("requested_from") == "QK1"
    }
    answered = {r["advice_request_id"] for r in qk1 if r["command"] == "ehc.return_advice"}
    planned = {
        kid.nhs_number
        for kid in kids
        if any(r["command"] == "ehc.issue_plan" for r in la_rows(kid))
    }
    flagged = {r["nhs_number"] for r in qk1 if r["command"] == "health.set_ehc_plan_flag"}
    assert answered <= asked and len(answered) > 0.9 * len(asked)
    assert 0 < len(planned - flagged) < 0.2 * len(planned) and flagged - planned
    for needed in (
        "health.make_referral",
        "health.record_diagnosis",
        "health.transfer_to_adult_services",
        "health.complete_annual_health_check",
        "transition.assign_named_worker",
    ):
        assert commands[needed] > 5, needed


def test_most_children_whose_plan_names_a_learning_difficulty_are_on_the_ld_register() -> None:
    kids = children(300)
    qk1 = extract("QK1", kids)
    on_register = {r["nhs_number"] for r in qk1 if r["command"] == "health.record_diagnosis"
                   and r["condition"] == "learning_disability"}
    learning_difficulty = {k.nhs_number for k in kids if k.primary_need in ("SLD", "PMLD", "MLD")
                           and any(r["command"] == "ehc.issue_plan" for r in la_rows(k))}
    assert learning_difficulty
    assert 0.7 < len(learning_difficulty & on_register) / len(learning_difficulty) < 1
    assert on_register - learning_difficulty  # and some on the register the LA's plans miss
