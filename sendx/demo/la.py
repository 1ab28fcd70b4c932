"""The LA's demo extract rows for the shared demo children (see `sendx.demo.children`).

Realistic on purpose: most requests decided within 6 weeks, some refused, about half the plans
within 20 weeks and the rest late, a few regulation 13(3) exceptions, a few decisions not to
issue, annual reviews (preparing for adulthood from 14) with outcomes and amendments, some
ceased plans (max age, moved away, needs met), transition milestones for young people aged
14-25 (some missed), and some commissioned AP. Disagreement at about the rates SEN2 and the
tribunal statistics show: mediation advice sought after a fifth of refusals and a few plans,
mediation held for about half of those, appeals (only after mediation advice, as the Children
and Families Act 2014 s.55 requires) mostly decided for the family; and a few complaints.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts import timescales
from sendx.demo.children import (
    DEMO_AP_PROVIDER,
    DEMO_ICB,
    DEMO_LAS,
    DEMO_SCHOOL,
    DEMO_TODAY,
    Child,
    ChildRows,
    children,
    columns_for,
    write_extract,
)
from sendx.demo.children import days_between_weeks as _days
from services.la.commands import LA_COMMANDS

OPEN_WEEKS = 2
"""Requests arrive until two weeks before the extract: the latest are still open (awaiting a
decision, or being assessed), as a real LA's are; nothing is dated after the extract."""


def la_rows(child: Child, today: date = DEMO_TODAY) -> list[dict[str, Any]]:
    """The home LA's extract rows for one child: the EHC process, then disagreement about it.

    Disagreement draws on a random stream of its own, so the process rows are the same with or
    without it."""
    out = ChildRows(child, child.la)
    out.rows = _process_rows(child, today)
    _disagreement(out, child.rng("la-disagreement"), today)
    return out.rows


def _process_rows(child: Child, today: date) -> list[dict[str, Any]]:
    """The EHC process and transition rows for one child, oldest first."""
    rng, out = child.rng("la"), ChildRows(child, child.la)
    out.add(
        "person.register",
        nhs_number=child.nhs_number,
        given_name=child.given_name,
        family_name=child.family_name,
        born_on=child.born_on,
    )
    if _plan_in_force_at_go_live(out, today):
        return out.rows
    earliest = max(child.born_on + timedelta(days=3 * 365), today - timedelta(days=7 * 365))
    latest = today - timedelta(weeks=OPEN_WEEKS)
    if earliest >= latest:
        return out.rows
    requested = earliest + timedelta(days=rng.randrange((latest - earliest).days))
    case_id, plan_id = f"{child.la}-C-{child.ref}", f"{child.la}-P-{child.ref}"
    out.add(
        "ehc.request_assessment",
        nhs_number=child.nhs_number,
        case_id=case_id,
        requested_on=requested,
        requested_by=rng.choice(["parent", "parent", "school_or_college", "health"]),
    )
    decided = requested + _days(rng, 3, 6 if rng.random() < 0.85 else 9)
    if decided >= today:  # still awaiting the decision
        return _open_case_at_go_live(out)
    if rng.random() < 0.15:
        out.add("ehc.decide_assessment", case_id=case_id, decided_on=decided, decision="refuse")
        return out.rows
    out.add("ehc.decide_assessment", case_id=case_id, decided_on=decided, decision="assess")
    for n, giver in enumerate(["health", "educational_psychology", "social_care"], start=1):
        asked = decided + timedelta(days=rng.randint(1, 7))
        if asked < today:
            out.add(
                "ehc.request_advice",
                case_id=case_id,
                advice_request_id=f"{case_id}-A{n}",
                requested_on=asked,
                advice_giver=giver,
                requested_from=DEMO_ICB if giver == "health" else None,
            )
    if rng.random() < 0.08:
        not_issued = requested + _days(rng, 12, 18)
        if not_issued < today:
            out.add(
                "ehc.decide_not_to_issue",
                case_id=case_id,
                reason="needs_met_without_plan",
                decided_on=not_issued,
            )
        return out.rows
    roll = rng.random()
    exception = (
        rng.choice(["away_4_weeks", "exceptional_personal_circumstances"]) if roll > 0.92 else None
    )
    issued = requested + (_days(rng, 14, 20) if roll < 0.5 else _days(rng, 21, 36))
    if issued >= today:  # still being assessed: an open request, its advice perhaps outstanding
        return _open_case_at_go_live(out)
    placement = (
        "special"
        if child.primary_need in ("SLD", "PMLD")
        else rng.choice(["mainstream", "mainstream", "resourced_provision", "special"])
    )
    out.add(
        "ehc.issue_plan",
        case_id=case_id,
        plan_id=plan_id,
        issued_on=issued,
        primary_need=child.primary_need,
        placement=placement,
        placement_provider=DEMO_SCHOOL if placement == "mainstream" else None,
        exception=exception,
    )
    _plan_life(out, rng, plan_id, issued, today)
    _transition(out, rng, child, today)
    if rng.random() < 0.06:
        out.add(
            "ap.commission_placement",
            nhs_number=child.nhs_number,
            placement_id=f"{child.la}-AP-{child.ref}",
            provider=DEMO_AP_PROVIDER,
            commissioned_on=issued + timedelta(days=rng.randint(30, 200)),
            tier=rng.choice([1, 2, 2, 3]),
            reason=rng.choice(["exclusion", "medical", "send"]),
        )
    return out.rows


GO_LIVE_SYSTEM = "capita-one"
"""The LA's existing system the demo's go-live rows come from."""


def _plan_in_force_at_go_live(out: ChildRows, today: date) -> bool:
    """For a few older children, a plan the LA already maintained when it joined, recorded from
    its existing system (no invented request): issued years ago, reviewed within the year."""
    child = out.child
    rng = child.rng("la-go-live")
    if child.age_on(today) < 9 or rng.random() >= 0.04:
        return False
    issued = child.born_on + timedelta(days=rng.randint(5 * 365, 7 * 365))
    out.add(
        "ehc.record_plan_in_force",
        nhs_number=child.nhs_number,
        case_id=f"{child.la}-C-{child.ref}-G",
        plan_id=f"{child.la}-P-{child.ref}-G",
        issued_on=issued,
        primary_need=child.primary_need,
        placement="special" if child.primary_need in ("SLD", "PMLD") else "mainstream",
        last_reviewed_on=today - timedelta(days=rng.randint(30, 330)),
        last_amended_on=issued + timedelta(days=rng.randint(200, 700)),
        migrated_from=GO_LIVE_SYSTEM,
    )
    return True


def _open_case_at_go_live(out: ChildRows) -> list[dict[str, Any]]:
    """For some open cases, the request and decision as the LA's existing system held them at
    go-live (`ehc.record_assessment_at_step`) instead of as two live rows; the advice requested
    since follows live. Drawn from a random stream of its own, so the other rows are unchanged."""
    if out.child.rng("la-go-live-step").random() >= 0.5:
        return out.rows
    by_command = {row["command"]: row for row in out.rows}
    request = by_command["ehc.request_assessment"]
    decision = by_command.get("ehc.decide_assessment")
    step = {
        "record_id": request["record_id"], "command": "ehc.record_assessment_at_step",
        "nhs_number": request["nhs_number"], "case_id": request["case_id"],
        "requested_on": request["requested_on"], "requested_by": request["requested_by"],
        "step": "assessing" if decision else "awaiting_decision",
        "decided_on": decision["decided_on"] if decision else None,
        "migrated_from": GO_LIVE_SYSTEM,
    }
    out.rows = [step if row is request else row for row in out.rows if row is not decision]
    return out.rows


def _plan_life(out: ChildRows, rng: random.Random, plan_id: str, issued: date, today: date) -> None:
    """Annual reviews (some late), outcomes, amendments and, for some, the end of the plan."""
    child, last = out.child, issued
    max_end = timescales.plan_max_end(child.born_on)
    while True:
        held = last + _days(rng, 44, 56 if rng.random() < 0.8 else 64)
        if held >= today or held >= max_end:
            break
        out.add(
            "ehc.hold_annual_review",
            plan_id=plan_id,
            held_on=held,
            preparing_for_adulthood=child.age_on(held) >= 14,
        )
        roll = rng.random()
        outcome = "maintain" if roll < 0.55 else "amend" if roll < 0.94 else "cease"
        decided = held + _days(rng, 1, 4 if rng.random() < 0.85 else 7)
        if decided >= today:
            break
        out.add(
            "ehc.decide_review_outcome",
            plan_id=plan_id,
            review_held_on=held,
            decided_on=decided,
            outcome=outcome,
        )
        if outcome == "amend":
            amended = held + _days(rng, 6, 12 if rng.random() < 0.7 else 18)
            if amended < today:
                out.add(
                    "ehc.amend_plan",
                    plan_id=plan_id,
                    amended_on=amended,
                    trigger="annual_review",
                    review_held_on=held,
                )
        if outcome == "cease":
            reason = "needs_met" if child.age_on(held) < 16 else "left_education_or_training"
            out.add(
                "ehc.cease_plan",
                plan_id=plan_id,
                ceased_on=decided + timedelta(days=28),
                reason=reason,
            )
            return
        last = held
    if max_end < today:
        out.add("ehc.cease_plan", plan_id=plan_id, ceased_on=max_end, reason="max_age")
    elif rng.random() < 0.04:
        out.add(
            "ehc.cease_plan",
            plan_id=plan_id,
            reason="moved_to_another_la",
            ceased_on=min(today - timedelta(days=1), last + timedelta(days=rng.randint(30, 300))),
        )


def _transition(out: ChildRows, rng: random.Random, child: Child, today: date) -> None:
    """Preparing-for-adulthood milestones for those old enough (some missed on purpose)."""

    def around(due: date, early: int, late: int) -> date | None:
        when = due + timedelta(days=rng.randint(-early, late))
        return when if when < today else None

    if child.age_on(today) < 14:
        return
    if rng.random() < 0.7 and (on := around(timescales.named_worker_due(child.born_on), 200, 150)):
        out.add(
            "transition.assign_named_worker",
            nhs_number=child.nhs_number,
            assigned_on=on,
            worker_role=rng.choice(["send_officer", "social_worker"]),
        )
    if rng.random() < 0.55 and (
        on := around(timescales.transition_plan_due(child.born_on), 200, 200)
    ):
        out.add(
            "transition.agree_plan",
            nhs_number=child.nhs_number,
            agreed_on=on,
            partners=[child.la, DEMO_ICB],
        )
    if (
        child.age_on(today) >= 16
        and rng.random() < 0.4
        and (on := around(timescales.adult_social_care_assessment_due(child.born_on), 300, 200))
    ):
        out.add(
            "adult_social_care.complete_transition_assessment",
            nhs_number=child.nhs_number,
            completed_on=on,
            likely_eligible_needs=rng.random() < 0.6,
        )


STAGE_OF = {"refuse": "request", "ehc.decide_not_to_issue": "assessment",
            "ehc.issue_plan": "plan"}
"""What the LA decided -> the SEN2 stage a disagreement with it is recorded at."""
MEDIATION_ADVICE_SOUGHT = {"request": 0.2, "assessment": 0.3, "plan": 0.06}
APPEAL_OUTCOMES = (
    ("upheld", 0.55), ("partly_upheld", 0.1), ("dismissed", 0.05), ("withdrawn", 0.15),
    ("conceded", 0.15),
)
"""Roughly the tribunal statistics for SEND appeals: most decided for the family."""


def _disputed(rows: list[dict[str, Any]]) -> tuple[str, date, str] | None:
    """The decision a family may disagree with: (case id, decided on, SEN2 stage)."""
    for row in reversed(rows):
        command = row["command"]
        if command == "ehc.decide_assessment" and row["decision"] == "refuse":
            return row["case_id"], row["decided_on"], STAGE_OF["refuse"]
        if command in ("ehc.decide_not_to_issue", "ehc.issue_plan"):
            when = row["decided_on"] if "decided_on" in row else row["issued_on"]
            return row["case_id"], when, STAGE_OF[command]
    return None


def _disagreement(out: ChildRows, rng: random.Random, today: date) -> None:
    """Mediation advice, mediation and appeal about the LA's last decision; a few complaints."""
    disputed = _disputed(out.rows)
    if disputed is None:
        return
    case_id, decided, stage = disputed
    if rng.random() < 0.05:
        received = decided + timedelta(days=rng.randint(5, 120))
        complaint_id = f"{out.org}-K-{out.child.ref}"
        if received < today:
            out.add("disagreement.receive_complaint", nhs_number=out.child.nhs_number,
                    complaint_id=complaint_id, received_on=received,
                    subject=rng.choice(["ehc_process", "ehc_process", "education_provision"]))
            resolved = received + timedelta(days=rng.randint(10, 70))
            if resolved < today:
                out.add("disagreement.resolve_complaint", complaint_id=complaint_id,
                        resolved_on=resolved, outcome=rng.choice(
                            ["upheld", "partly_upheld", "partly_upheld", "not_upheld",
                             "not_upheld", "withdrawn"]))
    sought = decided + timedelta(days=rng.randint(7, 50))
    if rng.random() >= MEDIATION_ADVICE_SOUGHT[stage] or sought >= today:
        return
    out.add("disagreement.seek_mediation_advice", case_id=case_id, sought_on=sought, stage=stage)
    last = sought
    if rng.random() < 0.5:
        held = sought + timedelta(days=rng.randint(10, 30))  # reg. 37: within 30 days
        if held >= today:
            return
        agreed = rng.random() < 0.6
        out.add("disagreement.hold_mediation", case_id=case_id, held_on=held, stage=stage,
                agreement_reached=agreed)
        if agreed and rng.random() < 0.9:
            return
        last = held
    if rng.random() >= 0.45:
        return
    registered = last + timedelta(days=rng.randint(7, 45))
    if registered >= today:
        return
    appeal_id = f"{out.org}-T-{out.child.ref}"
    out.add("disagreement.register_appeal", case_id=case_id, appeal_id=appeal_id,
            registered_on=registered, stage=stage)
    ended = registered + _days(rng, 12, 40)
    if ended < today:
        outcomes, weights = zip(*APPEAL_OUTCOMES, strict=True)
        out.add("disagreement.decide_appeal", case_id=case_id, appeal_id=appeal_id,
                decided_on=ended, outcome=rng.choices(outcomes, weights)[0])


def la_extract(la: str, kids: list[Child] | None = None) -> list[dict[str, Any]]:
    """Every row of one LA's extract, child by child (each child's rows in date order)."""
    return [row for child in (kids or children()) if child.la == la for row in la_rows(child)]


def la_columns() -> list[str]:
    return columns_for(LA_COMMANDS)


def write_la_extracts(out_dir: Path, *, count: int = 300, suffix: str = ".csv") -> dict[str, Path]:
    """`la-<code>.csv` (or `.jsonl`) per demo LA in `out_dir`."""
    kids = children(count)
    return {
        la: write_extract(la_extract(la, kids), out_dir / f"la-{la}{suffix}", la_columns())
        for la in DEMO_LAS
    }
