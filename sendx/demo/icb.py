"""The ICB's (QK1) and the community trust's (RT5) demo extract rows for the shared demo children.

The same children as the LAs' extracts (`sendx.demo.children.children()`), so person keys link:
- QK1 returns the health advice the LAs ask it for (most within 6 weeks, some late), keeps the
  health record's EHC plan marker (set after the LA issues a plan, cleared after it ceases),
  with a realistic few discrepancies (never set, never cleared, set for the wrong LA, set
  without any LA plan), the GP learning-disability register (a learning-disability diagnosis
  for most children whose plan names a learning difficulty, and for a few without a plan)
  with annual health checks from 14, the dynamic support register (people with a learning
  disability or autism) and a few complaints about health provision.
- RT5 holds the pathway waits (referral, first assessment, diagnosis; a few diagnoses without
  a referral or on a referral held by another trust) and the transition milestones from 14:
  health transition worker, care summaries, adult services referral and transfer.
The LA's own demo rows are read (not its domain) so that the ICB answers what the LA asked.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts import timescales
from sendx.demo.children import (
    DEMO_ICB,
    DEMO_LAS,
    DEMO_TODAY,
    DEMO_TRUST,
    Child,
    ChildRows,
    children,
    columns_for,
    write_extract,
)
from sendx.demo.children import days_between_weeks as _days
from sendx.demo.la import la_rows
from services.icb.commands import ICB_COMMANDS

OTHER_TRUST = "RWE"
"""An acute trust outside the demo partnership: some diagnoses answer its referrals."""
PATHWAY_BY_NEED = {
    "ASD": "neurodevelopmental",
    "SLCN": "slt",
    "SEMH": "camhs",
    "SLD": "paediatrics",
    "PMLD": "paediatrics",
    "PD": "ot",
}
LD_REGISTER_NEEDS = ("SLD", "PMLD", "MLD")
COMPLEX_NEEDS = ("SLD", "PMLD", "PD", "MSI")


def _la_facts(child: Child) -> dict[str, Any]:
    """What the home LA recorded that health answers: advice requests, plan issue and cease."""
    rows = la_rows(child)
    issued = next(
        (r["issued_on"] for r in rows
         if r["command"] in ("ehc.issue_plan", "ehc.record_plan_in_force")),
        None,
    )
    ceased = next((r["ceased_on"] for r in rows if r["command"] == "ehc.cease_plan"), None)
    advice = [
        r
        for r in rows
        if r["command"] == "ehc.request_advice" and r.get("requested_from") == DEMO_ICB
    ]
    return {"issued": issued, "ceased": ceased, "advice": advice}


def icb_rows(child: Child, today: date = DEMO_TODAY) -> list[dict[str, Any]]:
    """QK1's rows for one child (none if the ICB holds nothing about them)."""
    rng, out = child.rng("icb"), ChildRows(child, DEMO_ICB)
    facts = _la_facts(child)
    out.register()
    for request in facts["advice"]:
        returned = request["requested_on"] + _days(rng, 3, 6 if rng.random() < 0.7 else 10)
        if returned < today:
            out.add(
                "ehc.return_advice",
                nhs_number=child.nhs_number,
                case_id=request["case_id"],
                advice_request_id=request["advice_request_id"],
                requesting_la=child.la,
                returned_on=returned,
                advice_giver="health",
            )
    _plan_flag(out, rng, facts, today)
    _learning_disability_register(out, rng, today)
    _register_and_complaints(out, child.rng("icb-register"), facts, today)
    return out.rows if len(out.rows) > 1 else []


def _register_and_complaints(
    out: ChildRows, rng: random.Random, facts: dict[str, Any], today: date
) -> None:
    """The GP LD register's diagnoses (indicators 8 and 10), autistic people on the dynamic
    support register (9) and complaints about health provision (12), on a random stream of
    their own so that the rows above stay as they were."""
    child = out.child
    on_register = (child.primary_need in LD_REGISTER_NEEDS and rng.random() < 0.88) or (
        facts["issued"] is None and rng.random() < 0.04
    )
    diagnosed = child.born_on + timedelta(days=rng.randint(2 * 365, 9 * 365))
    if on_register and diagnosed < today:
        out.add(
            "health.record_diagnosis",
            nhs_number=child.nhs_number,
            diagnosis_id=f"{DEMO_ICB}-D-{child.ref}-LD",
            diagnosed_on=diagnosed,
            condition="learning_disability",
            no_referral_reason="historic_record",
        )
    if child.primary_need == "ASD" and child.age_on(today) >= 10 and rng.random() < 0.1:
        on = today - timedelta(days=rng.randint(30, 600))
        out.add("health.change_dsr_status", nhs_number=child.nhs_number, changed_on=on,
                status=rng.choice(["amber", "amber", "green", "red"]))
    if rng.random() < 0.03:
        received = today - timedelta(days=rng.randint(20, 700))
        complaint_id = f"{DEMO_ICB}-K-{child.ref}"
        out.add("disagreement.receive_complaint", nhs_number=child.nhs_number,
                complaint_id=complaint_id, received_on=received, subject="health_provision")
        resolved = received + timedelta(days=rng.randint(15, 90))
        if resolved < today:
            out.add("disagreement.resolve_complaint", complaint_id=complaint_id,
                    resolved_on=resolved,
                    outcome=rng.choice(["upheld", "partly_upheld", "not_upheld", "not_upheld"]))


def _plan_flag(out: ChildRows, rng: random.Random, facts: dict[str, Any], today: date) -> None:
    """The health record's EHC plan marker, mostly agreeing with the LA (indicator 1)."""
    child, issued, ceased = out.child, facts["issued"], facts["ceased"]
    if issued is None:
        if rng.random() < 0.1:  # flagged by health with no plan at the LA
            on = today - timedelta(days=rng.randint(30, 900))
            if on > child.born_on:
                out.add(
                    "health.set_ehc_plan_flag",
                    nhs_number=child.nhs_number,
                    set_on=on,
                    la_code=child.la,
                )
        return
    if rng.random() < 0.08:  # never flagged on the health record
        return
    la_code = (
        child.la if rng.random() > 0.03 else rng.choice([la for la in DEMO_LAS if la != child.la])
    )
    set_on = issued + timedelta(days=rng.randint(7, 60))
    if set_on >= today or (ceased is not None and set_on >= ceased):
        return
    out.add("health.set_ehc_plan_flag", nhs_number=child.nhs_number, set_on=set_on, la_code=la_code)
    if ceased is not None and rng.random() < 0.8:  # otherwise left set after the plan ceased
        cleared = ceased + timedelta(days=rng.randint(10, 90))
        if cleared < today:
            out.add(
                "health.clear_ehc_plan_flag",
                nhs_number=child.nhs_number,
                cleared_on=cleared,
                la_code=la_code,
            )


def _learning_disability_register(out: ChildRows, rng: random.Random, today: date) -> None:
    child = out.child
    if child.primary_need not in LD_REGISTER_NEEDS:
        return
    first = max(timescales.birthday(child.born_on, 14), today - timedelta(days=3 * 365))
    when = first + timedelta(days=rng.randint(0, 120))
    while when < today:
        if rng.random() < 0.75:
            out.add(
                "health.complete_annual_health_check",
                nhs_number=child.nhs_number,
                completed_on=when,
                health_action_plan=rng.random() < 0.7,
            )
        when += timedelta(days=rng.randint(330, 420))
    if child.age_on(today) >= 10 and rng.random() < 0.25:
        on = today - timedelta(days=rng.randint(60, 700))
        out.add(
            "health.change_dsr_status", nhs_number=child.nhs_number, changed_on=on, status="amber"
        )
        later = on + timedelta(days=rng.randint(20, 200))
        if later < today:
            status = rng.choice(["red", "green", "removed"])
            out.add(
                "health.change_dsr_status",
                nhs_number=child.nhs_number,
                changed_on=later,
                status=status,
            )


def trust_rows(child: Child, today: date = DEMO_TODAY) -> list[dict[str, Any]]:
    """RT5's rows for one child: pathway waits and transition milestones."""
    rng, out = child.rng("trust"), ChildRows(child, DEMO_TRUST)
    out.register()
    pathway = PATHWAY_BY_NEED.get(child.primary_need)
    if pathway is None and rng.random() < 0.3:
        pathway = "paediatrics"
    if pathway is not None and rng.random() < 0.8:
        _pathway(out, rng, pathway, today)
    elif child.primary_need == "ASD" and rng.random() < 0.5:
        diagnosed = child.born_on + timedelta(days=rng.randint(3 * 365, 6 * 365))
        reason = rng.choice(["diagnosed_elsewhere", "historic_record"])
        if diagnosed < today:  # a historic diagnosis is in the past (services refuse the future)
            out.add(
                "health.record_diagnosis",
                nhs_number=child.nhs_number,
                diagnosis_id=f"{DEMO_TRUST}-D-{child.ref}-H",
                diagnosed_on=diagnosed,
                condition="autism",
                no_referral_reason=reason,
            )
    _transition(out, rng, today)
    return out.rows if len(out.rows) > 1 else []


def _pathway(out: ChildRows, rng: random.Random, pathway: str, today: date) -> None:
    child = out.child
    start = child.born_on + timedelta(days=2 * 365)
    if start >= today - timedelta(days=30):
        return
    referred = start + timedelta(days=rng.randrange(min((today - start).days - 30, 8 * 365)))
    if rng.random() < 0.1:  # diagnosed on another trust's referral
        diagnosed = referred + timedelta(days=rng.randint(200, 500))
        if diagnosed < today:
            out.add(
                "health.record_diagnosis",
                nhs_number=child.nhs_number,
                diagnosis_id=f"{DEMO_TRUST}-D-{child.ref}-X",
                diagnosed_on=diagnosed,
                condition="autism" if pathway == "neurodevelopmental" else "learning_disability",
                referral_id=f"{OTHER_TRUST}-R-{child.ref}",
                referral_org=OTHER_TRUST,
            )
        return
    referral_id = f"{DEMO_TRUST}-R-{child.ref}"
    out.add(
        "health.make_referral",
        nhs_number=child.nhs_number,
        referral_id=referral_id,
        referred_on=referred,
        pathway=pathway,
        priority="urgent" if rng.random() < 0.1 else "routine",
    )
    wait = _days(rng, 30, 90) if pathway == "neurodevelopmental" else _days(rng, 6, 40)
    started = referred + wait
    if started >= today:
        _maybe_closed(out, referral_id, referred, today)
        return
    out.add("health.start_assessment", referral_id=referral_id, started_on=started)
    condition = {"neurodevelopmental": "autism", "paediatrics": "learning_disability"}.get(pathway)
    diagnosed = started + timedelta(days=rng.randint(30, 150))
    if condition and diagnosed < today and rng.random() < 0.8:
        out.add(
            "health.record_diagnosis",
            nhs_number=child.nhs_number,
            diagnosis_id=f"{DEMO_TRUST}-D-{child.ref}",
            diagnosed_on=diagnosed,
            condition=condition if rng.random() < 0.85 else "adhd",
            referral_id=referral_id,
        )


def _maybe_closed(out: ChildRows, referral_id: str, referred: date, today: date) -> None:
    """Some referrals still waiting end without any assessment (moved away, declined, ...)."""
    rng = out.child.rng("trust-closed")
    closed = referred + timedelta(days=rng.randint(20, 200))
    if rng.random() < 0.2 and closed < today:
        out.add(
            "health.close_referral",
            referral_id=referral_id,
            closed_on=closed,
            reason=rng.choice(["discharged", "moved_away", "declined"]),
        )


def _transition(out: ChildRows, rng: random.Random, today: date) -> None:
    """Health's transition milestones for 14-25s (NICE NG43), some missed on purpose."""
    child = out.child
    if child.age_on(today) < 14:
        return
    nhs = child.nhs_number
    worker_on = timescales.named_worker_due(child.born_on) + timedelta(days=rng.randint(-150, 200))
    if rng.random() < 0.5 and worker_on < today:
        out.add("transition.assign_named_worker", nhs_number=nhs, assigned_on=worker_on)
    if child.primary_need in COMPLEX_NEEDS:
        when = max(timescales.birthday(child.born_on, 13), today - timedelta(days=4 * 365))
        while (when := when + timedelta(days=rng.randint(300, 420))) < today:
            out.add(
                "health.update_care_summary",
                nhs_number=nhs,
                updated_on=when,
                complex_health_needs=True,
            )
    if child.age_on(today) < 17 or rng.random() > 0.6:
        return
    service = (
        "adult_ld"
        if child.primary_need in LD_REGISTER_NEEDS
        else rng.choice(["adult_mental_health", "adult_community", "gp"])
    )
    accepted = timescales.adult_health_referral_due(child.born_on) + timedelta(
        days=rng.randint(-120, 150)
    )
    if accepted >= today:
        return
    transfer = timescales.transfer_to_adult_services_due(child.born_on) + timedelta(
        days=rng.randint(-30, 90)
    )
    transfer = max(transfer, accepted + timedelta(days=14))
    out.add(
        "health.accept_adult_services_referral",
        nhs_number=nhs,
        accepted_on=accepted,
        service=service,
        agreed_transfer_on=transfer,
    )
    if transfer < today and rng.random() < 0.85:
        out.add(
            "health.transfer_to_adult_services",
            nhs_number=nhs,
            transferred_on=transfer,
            service=service,
            receiving_org=DEMO_TRUST,
        )


def icb_extract(org: str, kids: list[Child] | None = None) -> list[dict[str, Any]]:
    """Every row of QK1's or RT5's extract, child by child."""
    rows_for = icb_rows if org == DEMO_ICB else trust_rows
    return [row for child in (kids or children()) for row in rows_for(child)]


def icb_columns() -> list[str]:
    return columns_for(ICB_COMMANDS)


def write_icb_extracts(out_dir: Path, *, count: int = 300, suffix: str = ".csv") -> dict[str, Path]:
    """`icb-QK1.csv` and `icb-RT5.csv` (or `.jsonl`) in `out_dir`."""
    kids = children(count)
    return {
        org: write_extract(icb_extract(org, kids), out_dir / f"icb-{org}{suffix}", icb_columns())
        for org in (DEMO_ICB, DEMO_TRUST)
    }
