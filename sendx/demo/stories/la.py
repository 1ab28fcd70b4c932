"""The home LA's part of a child's story: the EHC process, then disagreement about it.

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
from typing import TYPE_CHECKING

from contracts import timescales
from sendx.demo.children import days_between_weeks as _days

if TYPE_CHECKING:
    from sendx.demo.stories import Story

OPEN_WEEKS = 2
"""Requests arrive until two weeks before the story ends: the latest are still open (awaiting a
decision, or being assessed), as a real LA's are."""
GO_LIVE_SYSTEM = "capita-one"
"""The LA's existing system the go-live records come from."""


def tell(story: Story) -> None:
    """The EHC process, then disagreement about it. Disagreement draws on a random stream of its
    own, so the process is the same with or without it."""
    _process(story)
    _disagreement(story, story.child.rng("la-disagreement"))


def _process(story: Story) -> None:
    """The EHC process and transition, oldest first."""
    child, today, la = story.child, story.today, story.child.la
    rng = child.rng("la")
    if _plan_in_force_at_go_live(story):
        return
    earliest = max(child.born_on + timedelta(days=3 * 365), today - timedelta(days=7 * 365))
    latest = today - timedelta(weeks=OPEN_WEEKS)
    if earliest >= latest:
        return
    requested = earliest + timedelta(days=rng.randrange((latest - earliest).days))
    case_id, plan_id = f"{la}-C-{child.ref}", f"{la}-P-{child.ref}"
    story.add(la, "ehc.request_assessment", "requested_on", requested, case_id=case_id,
              requested_by=rng.choice(["parent", "parent", "school_or_college", "health"]))
    decided = requested + _days(rng, 3, 6 if rng.random() < 0.85 else 9)
    if decided >= today:  # still awaiting the decision
        _open_case_at_go_live(story)
        return
    if rng.random() < 0.15:
        story.add(la, "ehc.decide_assessment", "decided_on", decided, case_id=case_id,
                  decision="refuse")
        return
    story.add(la, "ehc.decide_assessment", "decided_on", decided, case_id=case_id,
              decision="assess")
    for n, giver in enumerate(["health", "educational_psychology", "social_care"], start=1):
        story.add(la, "ehc.request_advice", "requested_on",
                  decided + timedelta(days=rng.randint(1, 7)), case_id=case_id,
                  advice_request_id=f"{case_id}-A{n}", advice_giver=giver,
                  requested_from=story.cast.icb if giver == "health" else None)
    if rng.random() < 0.08:
        story.add(la, "ehc.decide_not_to_issue", "decided_on", requested + _days(rng, 12, 18),
                  case_id=case_id, reason="needs_met_without_plan")
        return
    roll = rng.random()
    exception = (
        rng.choice(["away_4_weeks", "exceptional_personal_circumstances"]) if roll > 0.92 else None
    )
    issued = requested + (_days(rng, 14, 20) if roll < 0.5 else _days(rng, 21, 36))
    if issued >= today:  # still being assessed: an open request, its advice perhaps outstanding
        _open_case_at_go_live(story)
        return
    placement = (
        "special"
        if child.primary_need in ("SLD", "PMLD")
        else rng.choice(["mainstream", "mainstream", "resourced_provision", "special"])
    )
    story.add(la, "ehc.issue_plan", "issued_on", issued, case_id=case_id, plan_id=plan_id,
              primary_need=child.primary_need, placement=placement,
              placement_provider=story.cast.school_of(child) if placement == "mainstream" else None,
              exception=exception)
    _plan_life(story, rng, plan_id, issued)
    _transition(story, rng)
    if rng.random() < 0.06:
        story.add(la, "ap.commission_placement", "commissioned_on",
                  issued + timedelta(days=rng.randint(30, 200)),
                  placement_id=f"{la}-AP-{child.ref}", provider=story.cast.ap_provider_of(child),
                  tier=rng.choice([1, 2, 2, 3]),
                  reason=rng.choice(["exclusion", "medical", "send"]))


def _plan_in_force_at_go_live(story: Story) -> bool:
    """For a few older children, a plan the LA already maintained when it joined, recorded from
    its existing system (no invented request): issued years ago, reviewed within the year."""
    child, today = story.child, story.today
    rng = child.rng("la-go-live")
    if child.age_on(today) < 9 or rng.random() >= 0.04:
        return False
    issued = child.born_on + timedelta(days=rng.randint(5 * 365, 7 * 365))
    return story.add(
        child.la, "ehc.record_plan_in_force", "issued_on", issued,
        case_id=f"{child.la}-C-{child.ref}-G", plan_id=f"{child.la}-P-{child.ref}-G",
        primary_need=child.primary_need,
        placement="special" if child.primary_need in ("SLD", "PMLD") else "mainstream",
        last_reviewed_on=today - timedelta(days=rng.randint(30, 330)),
        last_amended_on=issued + timedelta(days=rng.randint(200, 700)),
        migrated_from=GO_LIVE_SYSTEM,
    )


def _open_case_at_go_live(story: Story) -> None:
    """For some open cases, the request and decision as the LA's existing system held them at
    go-live (`ehc.record_assessment_at_step`) instead of as two live happenings; the advice
    requested since follows live. Drawn from a random stream of its own, so the rest is
    unchanged."""
    from sendx.demo.stories import Happening  # the package imports this module first

    if story.child.rng("la-go-live-step").random() >= 0.5:
        return
    (request,) = story.of(story.child.la, "ehc.request_assessment")
    decision = next(iter(story.of(story.child.la, "ehc.decide_assessment")), None)
    step = Happening(request.org, "ehc.record_assessment_at_step", request.on, {
        **request.facts, "step": "assessing" if decision else "awaiting_decision",
        "decided_on": decision.on if decision else None, "migrated_from": GO_LIVE_SYSTEM,
    })
    story.happenings = [step if h is request else h for h in story.happenings if h is not decision]


def _plan_life(story: Story, rng: random.Random, plan_id: str, issued: date) -> None:
    """Annual reviews (some late), outcomes, amendments and, for some, the end of the plan: an
    end comes after everything recorded about the plan (the LA refuses one before)."""
    child, today, la, last = story.child, story.today, story.child.la, issued
    latest = issued
    max_end = timescales.plan_max_end(child.born_on)
    while True:
        held = last + _days(rng, 44, 56 if rng.random() < 0.8 else 64)
        if held >= today or held >= max_end:
            break
        story.add(la, "ehc.hold_annual_review", "held_on", held, plan_id=plan_id,
                  preparing_for_adulthood=child.age_on(held) >= 14)
        last = latest = held
        roll = rng.random()
        outcome = "maintain" if roll < 0.55 else "amend" if roll < 0.94 else "cease"
        decided = held + _days(rng, 1, 4 if rng.random() < 0.85 else 7)
        if decided >= today:
            break
        story.add(la, "ehc.decide_review_outcome", "decided_on", decided, plan_id=plan_id,
                  review_held_on=held, outcome=outcome)
        latest = decided
        if outcome == "amend":
            amended = held + _days(rng, 6, 12 if rng.random() < 0.7 else 18)
            if amended < max_end and story.add(la, "ehc.amend_plan", "amended_on", amended,
                                               plan_id=plan_id, trigger="annual_review",
                                               review_held_on=held):
                latest = max(latest, amended)
        if outcome == "cease":
            reason = "needs_met" if child.age_on(held) < 16 else "left_education_or_training"
            story.add(la, "ehc.cease_plan", "ceased_on", decided + timedelta(days=28),
                      plan_id=plan_id, reason=reason)
            return
    if max_end < today:
        story.add(la, "ehc.cease_plan", "ceased_on", max_end, plan_id=plan_id, reason="max_age")
    elif rng.random() < 0.04:
        story.add(la, "ehc.cease_plan", "ceased_on",
                  min(today - timedelta(days=1), latest + timedelta(days=rng.randint(30, 300))),
                  plan_id=plan_id, reason="moved_to_another_la")


def _transition(story: Story, rng: random.Random) -> None:
    """Preparing-for-adulthood milestones for those old enough (some missed on purpose)."""
    child, la = story.child, story.child.la

    def around(due: date, early: int, late: int) -> date:
        return due + timedelta(days=rng.randint(-early, late))

    if child.age_on(story.today) < 14:
        return
    if rng.random() < 0.7:
        story.add(la, "transition.assign_named_worker", "assigned_on",
                  around(timescales.named_worker_due(child.born_on), 200, 150),
                  worker_role=rng.choice(["send_officer", "social_worker"]))
    if rng.random() < 0.55:
        story.add(la, "transition.agree_plan", "agreed_on",
                  around(timescales.transition_plan_due(child.born_on), 200, 200),
                  partners=[la, story.cast.icb])
    if child.age_on(story.today) >= 16 and rng.random() < 0.4:
        story.add(la, "adult_social_care.complete_transition_assessment", "completed_on",
                  around(timescales.adult_social_care_assessment_due(child.born_on), 300, 200),
                  likely_eligible_needs=rng.random() < 0.6)


STAGE_OF = {"ehc.decide_assessment": "request", "ehc.decide_not_to_issue": "assessment",
            "ehc.issue_plan": "plan"}
"""What the LA decided -> the SEN2 stage a disagreement with it is recorded at."""
MEDIATION_ADVICE_SOUGHT = {"request": 0.2, "assessment": 0.3, "plan": 0.06}
APPEAL_OUTCOMES = (
    ("upheld", 0.55), ("partly_upheld", 0.1), ("dismissed", 0.05), ("withdrawn", 0.15),
    ("conceded", 0.15),
)
"""Roughly the tribunal statistics for SEND appeals: most decided for the family."""
COMPLAINT_OUTCOMES = ("upheld", "partly_upheld", "partly_upheld", "not_upheld", "not_upheld",
                      "withdrawn")


def _disputed(story: Story) -> tuple[str, date, str] | None:
    """The decision a family may disagree with: (case id, decided on, SEN2 stage)."""
    for happening in reversed(story.of(story.child.la, *STAGE_OF)):
        refused = happening.facts.get("decision") == "refuse"
        if happening.command != "ehc.decide_assessment" or refused:
            return happening.facts["case_id"], happening.on, STAGE_OF[happening.command]
    return None


def _disagreement(story: Story, rng: random.Random) -> None:
    """Mediation advice, mediation and appeal about the LA's last decision; a few complaints."""
    disputed = _disputed(story)
    if disputed is None:
        return
    case_id, decided, stage = disputed
    org, ref, today = story.child.la, story.child.ref, story.today
    if rng.random() < 0.05:
        received = decided + timedelta(days=rng.randint(5, 120))
        complaint_id = f"{org}-K-{ref}"
        if story.add(org, "disagreement.receive_complaint", "received_on", received,
                     complaint_id=complaint_id,
                     subject=rng.choice(["ehc_process", "ehc_process", "education_provision"])):
            story.add(org, "disagreement.resolve_complaint", "resolved_on",
                      received + timedelta(days=rng.randint(10, 70)), complaint_id=complaint_id,
                      outcome=rng.choice(COMPLAINT_OUTCOMES))
    sought = decided + timedelta(days=rng.randint(7, 50))
    if rng.random() >= MEDIATION_ADVICE_SOUGHT[stage] or sought >= today:
        return
    story.add(org, "disagreement.seek_mediation_advice", "sought_on", sought, case_id=case_id,
              stage=stage)
    last = sought
    if rng.random() < 0.5:
        held = sought + timedelta(days=rng.randint(10, 30))  # reg. 37: within 30 days
        if held >= today:
            return
        agreed = rng.random() < 0.6
        story.add(org, "disagreement.hold_mediation", "held_on", held, case_id=case_id,
                  stage=stage, agreement_reached=agreed)
        if agreed and rng.random() < 0.9:
            return
        last = held
    if rng.random() >= 0.45:
        return
    registered = last + timedelta(days=rng.randint(7, 45))
    appeal_id = f"{org}-T-{ref}"
    if not story.add(org, "disagreement.register_appeal", "registered_on", registered,
                     case_id=case_id, appeal_id=appeal_id, stage=stage):
        return
    outcomes, weights = zip(*APPEAL_OUTCOMES, strict=True)
    story.add(org, "disagreement.decide_appeal", "decided_on", registered + _days(rng, 12, 40),
              case_id=case_id, appeal_id=appeal_id, outcome=rng.choices(outcomes, weights)[0])
