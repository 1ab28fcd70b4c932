"""The providers' part of a child's story: the child's school and the AP provider.

- The school (120001 in the demo, a secondary school) holds the children whose LA plan names
  it, and some others aged 11-18: part-time timetables (a few still running), and post-16
  destinations confirmed for those past Year 11 (some after the 31 March deadline).
- The AP provider (AP001, an AP academy) starts the placements the LA commissioned from it
  (tier, part time, reason, the commissioning LA) and a few the school arranged itself; most
  end, half of those with reintegration.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import TYPE_CHECKING

from contracts import timescales

if TYPE_CHECKING:
    from sendx.demo.stories import Story


def tell(story: Story) -> None:
    """The school's part, then the AP provider's, each on its own random stream."""
    _school(story, story.child.rng("school"))
    _alternative_provision(story, story.child.rng("ap"))


def _school(story: Story, rng: random.Random) -> None:
    child, today = story.child, story.today
    school = story.cast.school_of(child)
    named = any(h.facts["placement_provider"] == school
                for h in story.of(child.la, "ehc.issue_plan"))
    if not named and not (11 <= child.age_on(today) <= 18 and rng.random() < 0.3):
        return
    if rng.random() < 0.1:
        started = today - timedelta(days=rng.randint(20, 400))
        if child.age_on(started) >= 11:
            timetable_id = f"{school}-T-{child.ref}"
            story.add(school, "provider.start_part_time_timetable", "started_on", started,
                      timetable_id=timetable_id, hours_per_week=rng.choice([10, 12.5, 15, 20]),
                      reason=rng.choice(["medical", "reintegration", "behaviour", "send"]))
            ended = started + timedelta(days=rng.randint(20, 120))
            if ended < today and rng.random() < 0.7:
                story.add(school, "provider.end_part_time_timetable", "ended_on", ended,
                          timetable_id=timetable_id)
    moves_on = timescales.academic_year_end(timescales.birthday(child.born_on, 16)) + timedelta(
        days=1
    )
    confirmed = moves_on - timedelta(days=rng.randint(60, 250))
    if confirmed < today and child.age_on(today) <= 19 and rng.random() < 0.8:
        story.add(school, "provider.confirm_post16_destination", "confirmed_on", confirmed,
                  destination=rng.choice(["sixth_form", "fe_college", "fe_college",
                                          "specialist_post16", "apprenticeship"]),
                  moves_on=moves_on)


def _alternative_provision(story: Story, rng: random.Random) -> None:
    child, today = story.child, story.today
    provider = story.cast.ap_provider_of(child)
    commissioned = [h for h in story.of(child.la, "ap.commission_placement")
                    if h.facts["provider"] == provider]
    for placement in commissioned:
        facts = placement.facts
        _placement(story, rng, provider, placement.on + timedelta(days=rng.randint(5, 20)),
                   facts["placement_id"], facts["tier"], facts["reason"], child.la)
    if not commissioned and 8 <= child.age_on(today) <= 16 and rng.random() < 0.05:
        started = today - timedelta(days=rng.randint(10, 500))
        _placement(story, rng, provider, started, f"{provider}-P-{child.ref}",
                   rng.choice([1, 2]), "behaviour", None)


def _placement(story: Story, rng: random.Random, provider: str, started: date,
               placement_id: str, tier: int, reason: str, commissioned_by: str | None) -> None:
    if not story.add(provider, "ap.start_placement", "started_on", started,
                     placement_id=placement_id, tier=tier,
                     part_time=tier == 1 or rng.random() < 0.3, reason=reason,
                     commissioned_by=commissioned_by):
        return
    ended = started + timedelta(days=rng.randint(40, 300))
    if ended < story.today and rng.random() < 0.7:
        story.add(provider, "ap.end_placement", "ended_on", ended, placement_id=placement_id,
                  outcome=rng.choices(["reintegrated", "moved", "other"], [5, 3, 2])[0])
