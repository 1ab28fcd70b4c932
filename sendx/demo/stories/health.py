"""Health's part of a child's story: the ICB (QK1 in the demo) and the community trust (RT5).

- The ICB returns the health advice the LA asks it for (most within 6 weeks, some late), keeps
  the health record's EHC plan marker (set after the LA issues a plan, cleared after it ceases),
  with a realistic few discrepancies (never set, never cleared, set for the wrong LA, set
  without any LA plan), the GP learning-disability register (a learning-disability diagnosis
  for most children whose plan names a learning difficulty, and for a few without a plan)
  with annual health checks from 14, the dynamic support register (people with a learning
  disability or autism) and a few complaints about health provision.
- The trust holds the pathway waits (referral, first assessment, diagnosis; a few diagnoses
  without a referral or on a referral held by another trust) and the transition milestones
  from 14: health transition worker, care summaries, adult services referral and transfer.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

from contracts import timescales
from sendx.demo.children import days_between_weeks as _days

if TYPE_CHECKING:
    from sendx.demo.stories import Happening, Story

OTHER_TRUST = "RWE"
"""An acute trust outside the partnership: some diagnoses answer its referrals."""
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


class LaFacts(NamedTuple):
    """What the home LA did that health answers: its plan, when it ended, the advice it asked."""

    issued: date | None
    ceased: date | None
    advice: list[Happening]


def _la_facts(story: Story) -> LaFacts:
    la = story.child.la
    issued = next((h.on for h in story.of(la, "ehc.issue_plan", "ehc.record_plan_in_force")), None)
    ceased = next((h.on for h in story.of(la, "ehc.cease_plan")), None)
    advice = [h for h in story.of(la, "ehc.request_advice")
              if h.facts["requested_from"] == story.cast.icb]
    return LaFacts(issued, ceased, advice)


def tell(story: Story) -> None:
    """The ICB's part, then the trust's, each on its own random stream."""
    _icb(story, story.child.rng("icb"))
    _trust(story, story.child.rng("trust"))


def _icb(story: Story, rng: random.Random) -> None:
    child, icb, facts = story.child, story.cast.icb, _la_facts(story)
    for request in facts.advice:
        story.add(icb, "ehc.return_advice", "returned_on",
                  request.on + _days(rng, 3, 6 if rng.random() < 0.7 else 10),
                  case_id=request.facts["case_id"],
                  advice_request_id=request.facts["advice_request_id"], requesting_la=child.la,
                  advice_giver="health")
    _plan_flag(story, rng, facts)
    _learning_disability_register(story, rng)
    _register_and_complaints(story, child.rng("icb-register"), facts)


def _register_and_complaints(story: Story, rng: random.Random, facts: LaFacts) -> None:
    """The GP LD register's diagnoses (indicators 8 and 10), autistic people on the dynamic
    support register (9) and complaints about health provision (12), on a random stream of
    their own so that the happenings above stay as they were."""
    child, icb, today = story.child, story.cast.icb, story.today
    on_register = (child.primary_need in LD_REGISTER_NEEDS and rng.random() < 0.88) or (
        facts.issued is None and rng.random() < 0.04
    )
    diagnosed = child.born_on + timedelta(days=rng.randint(2 * 365, 9 * 365))
    if on_register:
        story.add(icb, "health.record_diagnosis", "diagnosed_on", diagnosed,
                  diagnosis_id=f"{icb}-D-{child.ref}-LD", condition="learning_disability",
                  no_referral_reason="historic_record")
    if child.primary_need == "ASD" and child.age_on(today) >= 10 and rng.random() < 0.1:
        story.add(icb, "health.change_dsr_status", "changed_on",
                  today - timedelta(days=rng.randint(30, 600)),
                  status=rng.choice(["amber", "amber", "green", "red"]))
    if rng.random() < 0.03:
        received = today - timedelta(days=rng.randint(20, 700))
        complaint_id = f"{icb}-K-{child.ref}"
        story.add(icb, "disagreement.receive_complaint", "received_on", received,
                  complaint_id=complaint_id, subject="health_provision")
        story.add(icb, "disagreement.resolve_complaint", "resolved_on",
                  received + timedelta(days=rng.randint(15, 90)), complaint_id=complaint_id,
                  outcome=rng.choice(["upheld", "partly_upheld", "not_upheld", "not_upheld"]))


def _plan_flag(story: Story, rng: random.Random, facts: LaFacts) -> None:
    """The health record's EHC plan marker, mostly agreeing with the LA (indicator 1)."""
    child, icb, today = story.child, story.cast.icb, story.today
    if facts.issued is None:
        if rng.random() < 0.1:  # flagged by health with no plan at the LA
            on = today - timedelta(days=rng.randint(30, 900))
            if on > child.born_on:
                story.add(icb, "health.set_ehc_plan_flag", "set_on", on, la_code=child.la)
        return
    if rng.random() < 0.08:  # never flagged on the health record
        return
    others = [la for la in story.cast.las if la != child.la]
    la_code = child.la if rng.random() > 0.03 or not others else rng.choice(others)
    set_on = facts.issued + timedelta(days=rng.randint(7, 60))
    if facts.ceased is not None and set_on >= facts.ceased:
        return
    if not story.add(icb, "health.set_ehc_plan_flag", "set_on", set_on, la_code=la_code):
        return
    if facts.ceased is not None and rng.random() < 0.8:  # otherwise left set after it ceased
        story.add(icb, "health.clear_ehc_plan_flag", "cleared_on",
                  facts.ceased + timedelta(days=rng.randint(10, 90)), la_code=la_code)


def _learning_disability_register(story: Story, rng: random.Random) -> None:
    child, icb, today = story.child, story.cast.icb, story.today
    if child.primary_need not in LD_REGISTER_NEEDS:
        return
    first = max(timescales.birthday(child.born_on, 14), today - timedelta(days=3 * 365))
    when = first + timedelta(days=rng.randint(0, 120))
    while when < today:
        if rng.random() < 0.75:
            story.add(icb, "health.complete_annual_health_check", "completed_on", when,
                      health_action_plan=rng.random() < 0.7)
        when += timedelta(days=rng.randint(330, 420))
    if child.age_on(today) >= 10 and rng.random() < 0.25:
        on = today - timedelta(days=rng.randint(60, 700))
        story.add(icb, "health.change_dsr_status", "changed_on", on, status="amber")
        later = on + timedelta(days=rng.randint(20, 200))
        if later < today:
            story.add(icb, "health.change_dsr_status", "changed_on", later,
                      status=rng.choice(["red", "green", "removed"]))


def _trust(story: Story, rng: random.Random) -> None:
    """Pathway waits and transition milestones."""
    child, trust = story.child, story.cast.trust
    pathway = PATHWAY_BY_NEED.get(child.primary_need)
    if pathway is None and rng.random() < 0.3:
        pathway = "paediatrics"
    if pathway is not None and rng.random() < 0.8:
        _pathway(story, rng, pathway)
    elif child.primary_need == "ASD" and rng.random() < 0.5:
        diagnosed = child.born_on + timedelta(days=rng.randint(3 * 365, 6 * 365))
        story.add(trust, "health.record_diagnosis", "diagnosed_on", diagnosed,
                  diagnosis_id=f"{trust}-D-{child.ref}-H", condition="autism",
                  no_referral_reason=rng.choice(["diagnosed_elsewhere", "historic_record"]))
    _transition(story, rng)


def _pathway(story: Story, rng: random.Random, pathway: str) -> None:
    child, trust, today = story.child, story.cast.trust, story.today
    start = child.born_on + timedelta(days=2 * 365)
    if start >= today - timedelta(days=30):
        return
    referred = start + timedelta(days=rng.randrange(min((today - start).days - 30, 8 * 365)))
    if rng.random() < 0.1:  # diagnosed on another trust's referral
        story.add(trust, "health.record_diagnosis", "diagnosed_on",
                  referred + timedelta(days=rng.randint(200, 500)),
                  diagnosis_id=f"{trust}-D-{child.ref}-X",
                  condition="autism" if pathway == "neurodevelopmental" else "learning_disability",
                  referral_id=f"{OTHER_TRUST}-R-{child.ref}", referral_org=OTHER_TRUST)
        return
    referral_id = f"{trust}-R-{child.ref}"
    story.add(trust, "health.make_referral", "referred_on", referred, referral_id=referral_id,
              pathway=pathway, priority="urgent" if rng.random() < 0.1 else "routine")
    wait = _days(rng, 30, 90) if pathway == "neurodevelopmental" else _days(rng, 6, 40)
    started = referred + wait
    if not story.add(trust, "health.start_assessment", "started_on", started,
                     referral_id=referral_id, pathway=pathway):
        _maybe_closed(story, referral_id, referred, pathway)
        return
    condition = {"neurodevelopmental": "autism", "paediatrics": "learning_disability"}.get(pathway)
    diagnosed = started + timedelta(days=rng.randint(30, 150))
    if condition and diagnosed < today and rng.random() < 0.8:
        story.add(trust, "health.record_diagnosis", "diagnosed_on", diagnosed,
                  diagnosis_id=f"{trust}-D-{child.ref}",
                  condition=condition if rng.random() < 0.85 else "adhd", referral_id=referral_id)


def _maybe_closed(story: Story, referral_id: str, referred: date, pathway: str) -> None:
    """Some referrals still waiting end without any assessment (moved away, declined, ...)."""
    rng = story.child.rng("trust-closed")
    closed = referred + timedelta(days=rng.randint(20, 200))
    if rng.random() < 0.2:
        story.add(story.cast.trust, "health.close_referral", "closed_on", closed,
                  referral_id=referral_id, pathway=pathway,
                  reason=rng.choice(["discharged", "moved_away", "declined"]))


def _transition(story: Story, rng: random.Random) -> None:
    """Health's transition milestones for 14-25s (NICE NG43), some missed on purpose."""
    child, trust, today = story.child, story.cast.trust, story.today
    if child.age_on(today) < 14:
        return
    worker_on = timescales.named_worker_due(child.born_on) + timedelta(days=rng.randint(-150, 200))
    if rng.random() < 0.5:
        story.add(trust, "transition.assign_named_worker", "assigned_on", worker_on)
    if child.primary_need in COMPLEX_NEEDS:
        when = max(timescales.birthday(child.born_on, 13), today - timedelta(days=4 * 365))
        while (when := when + timedelta(days=rng.randint(300, 420))) < today:
            story.add(trust, "health.update_care_summary", "updated_on", when,
                      complex_health_needs=True)
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
    story.add(trust, "health.accept_adult_services_referral", "accepted_on", accepted,
              service=service, agreed_transfer_on=transfer)
    if transfer < today and rng.random() < 0.85:
        story.add(trust, "health.transfer_to_adult_services", "transferred_on", transfer,
                  service=service, receiving_org=trust)
