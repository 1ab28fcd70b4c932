"""The health side of a synthetic child: pathway waits, diagnoses, EHC-plan flags, transfers.

Referrals, assessments, diagnoses, care summaries and transfers are recorded by the community
trust; EHC-plan flags, annual health checks and the dynamic support register by the ICB. The
flags deliberately disagree with the LA now and then (never set, never cleared, wrong LA), as
the LLR programme reports, so indicator 1's discrepancy is not empty.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sendx.demo.population.calendar import WINDOW_END, birthday, day_str

if TYPE_CHECKING:
    from sendx.demo.population.stories import Casebook, Child

# Median wait in days from referral to first assessment, and the spread (lognormal sigma).
WAITS = {"neurodevelopmental": (420, 0.45), "slt": (120, 0.5), "camhs": (180, 0.55),
         "ot": (150, 0.5), "paediatrics": (110, 0.4)}


class HealthStories:
    def __init__(self, book: Casebook) -> None:
        self.book = book

    def referral(self, child: Child, referred: int, pathway: str) -> None:
        """Referral onto a pathway, the wait, then (for ND and paediatrics) a diagnosis."""
        book, rng, trust = self.book, self.book.rng, self.book.cast.trust
        referral_id = book.local_id(trust, "R")
        # v2 of the contract adds `priority`; routine for all, so the random draws (and the
        # population's event mix) stay as they were.
        book.record(trust, child, "health.referral_made", referred,
                    {"referral_id": referral_id, "referred_on": day_str(referred),
                     "pathway": pathway, "priority": "routine"})
        median, sigma = WAITS[pathway]
        started = referred + int(median * math.exp(rng.gauss(0, sigma)))
        if not book.record(trust, child, "health.assessment_started", started,
                           {"referral_id": referral_id, "started_on": day_str(started),
                            "pathway": pathway}):
            return
        if pathway == "neurodevelopmental":
            outcomes = (("autism",), ("adhd",), ("autism", "adhd"), ())
            found = rng.choices(outcomes, (50, 30, 8, 12))[0]
        elif pathway == "paediatrics" and book.chance(0.2):
            found = ("learning_disability",)
        else:
            return
        for condition in found:
            on = started + book.between(30, 150)
            if book.record(trust, child, "health.diagnosis_recorded", on,
                           {"diagnosis_id": book.local_id(trust, "D"), "diagnosed_on": day_str(on),
                            "condition": condition, "referral_id": referral_id,
                            "no_referral_reason": None}):
                child.conditions.add(condition)

    def historic_diagnosis(self, child: Child, on: int, condition: str) -> None:
        book, trust = self.book, self.book.cast.trust
        reason = book.rng.choice(("diagnosed_elsewhere", "historic_record"))
        if book.record(trust, child, "health.diagnosis_recorded", on,
                       {"diagnosis_id": book.local_id(trust, "D"), "diagnosed_on": day_str(on),
                        "condition": condition, "referral_id": None, "no_referral_reason": reason}):
            child.conditions.add(condition)

    def extra_pathways(self, child: Child, issued: int, need: str) -> None:
        book = self.book
        if need == "ASD" and "autism" not in child.conditions and book.chance(0.1):
            self.historic_diagnosis(child, issued - book.between(0, 60), "autism")
        if book.chance(0.25):
            pathway = book.rng.choice(("slt", "camhs", "ot", "paediatrics"))
            self.referral(child, issued + book.between(0, 900), pathway)

    def after_diagnosis(self, child: Child) -> None:
        """Health-only children: DSR and, from 14, annual health checks and adult transfer."""
        if child.conditions & {"autism", "learning_disability"} and self.book.chance(0.08):
            self.dsr(child)
        if "learning_disability" in child.conditions:
            self.annual_health_checks(child)
            self.adult_transfer(child)

    def flag_plan(self, child: Child, issued: int, *, always: bool = False) -> None:
        """The ICB marks the plan on the health record: 88% do, weeks later; 3% name another LA."""
        book = self.book
        if not always and not book.chance(0.88):
            return
        la = child.la
        if book.chance(0.03) and len(book.cast.las) > 1:
            la = book.rng.choice([code for code in book.cast.las if code != child.la])
        on = issued + book.between(7, 140)
        book.record(book.cast.icb, child, "health.ehc_plan_flag_set", on,
                    {"set_on": day_str(on), "la_code": la})
        child.flagged_la = la

    def clear_flag(self, child: Child, ceased: int) -> None:
        """About 70% of flags are cleared after a cease; the rest linger (a discrepancy)."""
        book = self.book
        if ceased >= WINDOW_END or child.flagged_la is None or not book.chance(0.7):
            return
        on = ceased + book.between(14, 200)
        book.record(book.cast.icb, child, "health.ehc_plan_flag_cleared", on,
                    {"cleared_on": day_str(on), "la_code": child.flagged_la})

    def annual_health_checks(self, child: Child) -> None:
        book = self.book
        for age in range(14, 26):
            if book.chance(0.72):
                on = birthday(child.born, age) + book.between(0, 300)
                book.record(book.cast.icb, child, "health.annual_health_check_completed", on,
                            {"completed_on": day_str(on), "health_action_plan": book.chance(0.6)})

    def care_summaries(self, child: Child, until: int) -> None:
        book = self.book
        for age in range(13, 20):
            on = birthday(child.born, age) + book.between(0, 300)
            if on < until and book.chance(0.7):
                book.record(book.cast.trust, child, "health.care_summary_updated", on,
                            {"updated_on": day_str(on), "complex_health_needs": True})

    def adult_transfer(self, child: Child) -> None:
        """Referral accepted by an adult service (due by 17½), transfer at about 18."""
        book = self.book
        if not book.chance(0.6):
            return
        service = book.rng.choice(("adult_ld", "adult_mental_health", "adult_community", "gp"))
        eighteen = birthday(child.born, 18)
        on = birthday(child.born, 17) + book.between(60, 330)
        book.record(book.cast.trust, child, "health.adult_services_referral_accepted", on,
                    {"accepted_on": day_str(on), "service": service,
                     "agreed_transfer_on": day_str(eighteen)})
        if book.chance(0.85):
            moved = eighteen + book.between(-30, 120)
            book.record(book.cast.trust, child, "health.transferred_to_adult_services", moved,
                        {"transferred_on": day_str(moved), "service": service,
                         "receiving_org": book.cast.trust})

    def dsr(self, child: Child) -> None:
        book = self.book
        on = book.request_day()
        for status in ("amber", "red", "amber", "green", "removed")[: book.between(1, 5)]:
            book.record(book.cast.icb, child, "health.dsr_status_changed", on,
                        {"changed_on": day_str(on), "status": status})
            on += book.between(20, 200)
