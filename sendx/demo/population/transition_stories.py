"""Preparing for adulthood: the transition-from-14 milestones (NICE NG43, Care Act 2014).

Each milestone happens around its due age with a spread, and some never happen, so the tracker
has red, amber and green young people and overdue milestones owned by each organisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sendx.demo.population.calendar import birthday, day_str

if TYPE_CHECKING:
    from sendx.demo.population.stories import Casebook, Child

COMPLEX_NEEDS = frozenset({"SLD", "PMLD", "PD", "MSI"})


def preparing_for_adulthood(book: Casebook, child: Child, need: str, until: int) -> None:
    la, icb, trust = child.la, book.cast.icb, book.cast.trust
    if book.chance(0.85):
        on = birthday(child.born, 14) + book.between(-90, 200)
        by_health = book.chance(0.3)
        role = "health_transition_worker" if by_health else "send_officer"
        book.record(trust if by_health else la, child, "transition.named_worker_assigned", on,
                    {"assigned_on": day_str(on), "worker_role": role})
    if book.chance(0.7):
        on = birthday(child.born, 15) + book.between(-200, 150)
        partners = [la, icb] + ([trust] if book.chance(0.5) else [])
        book.record(la, child, "transition.plan_agreed", on,
                    {"agreed_on": day_str(on), "partners": partners})
    complex_needs = need in COMPLEX_NEEDS or "learning_disability" in child.conditions
    if (complex_needs or "autism" in child.conditions) and book.chance(0.45):
        on = birthday(child.born, 17) + book.between(-250, 120)
        book.record(la, child, "adult_social_care.transition_assessment_completed", on,
                    {"completed_on": day_str(on), "likely_eligible_needs": book.chance(0.8)})
    if complex_needs:
        book.health.adult_transfer(child)
        book.health.care_summaries(child, until)
    if "learning_disability" in child.conditions:
        book.health.annual_health_checks(child)
