"""Where the dataset's facts are kept: one table per fact kind, and the derivation the store runs.

The indexes serve the queries in `snapshot.py`: by LA and the date each indicator's period is
taken from.
"""

from __future__ import annotations

from projections.dataset import facts
from projections.dataset.fold import EMPTY, apply, history_order
from projections.dataset.registrations import BirthMonthConflictFact
from projections.readmodel.derivation import Derivation
from projections.readmodel.tables import FactTable

TABLES: tuple[FactTable, ...] = (
    FactTable(
        "ehc_plans",
        facts.PlanFact,
        ("person_key", "la_code", "plan_id"),
        (("issued_on", "la_code"),),
    ),
    FactTable("health_plan_flags", facts.HealthFlagFact, ("person_key", "la_code", "spell")),
    FactTable(
        "assessment_decisions",
        facts.DecisionFact,
        ("person_key", "la_code", "case_id"),
        (("decided_on",),),
    ),
    FactTable(
        "advice_requests",
        facts.AdviceFact,
        ("person_key", "la_code", "advice_request_id"),
        (("returned_on",),),
    ),
    FactTable(
        "annual_reviews",
        facts.ReviewFact,
        ("person_key", "la_code", "plan_id", "held_on"),
        (("held_on",),),
    ),
    FactTable(
        "plan_amendments",
        facts.AmendmentFact,
        ("person_key", "la_code", "plan_id", "review_held_on"),
        (("amended_on",),),
    ),
    FactTable(
        "referrals", facts.ReferralFact, ("person_key", "org", "referral_id"), (("referred_on",),)
    ),
    FactTable("ap_placements", facts.PlacementFact, ("person_key", "placement_id")),
    FactTable("part_time_timetables", facts.TimetableFact, ("person_key", "org", "timetable_id")),
    FactTable("birth_month_conflicts", BirthMonthConflictFact, ("person_key", "org")),
    FactTable(
        "assessment_requests",
        facts.RequestFact,
        ("person_key", "la_code", "case_id"),
        (("requested_on",),),
    ),
    FactTable(
        "amend_decisions",
        facts.AmendDecisionFact,
        ("person_key", "la_code", "plan_id", "review_held_on"),
        (("decided_on",),),
    ),
    FactTable("ld_register", facts.LdRegisterFact, ("person_key",)),
    FactTable("health_checks", facts.HealthCheckFact, ("person_key", "completed_on")),
    FactTable("dsr_spells", facts.DsrSpellFact, ("person_key", "spell")),
    FactTable(
        "mediations", facts.MediationFact, ("person_key", "la_code", "case_id", "step"),
        (("happened_on",),),
    ),
    FactTable("tribunal_appeals", facts.AppealFact, ("person_key", "la_code", "appeal_id")),
    FactTable("complaints", facts.ComplaintFact, ("person_key", "org", "complaint_id")),
)

DERIVATION = Derivation(
    TABLES,
    initial=EMPTY,
    step=apply,
    order=history_order,
    rows=facts.TABLE_ROWS,
    inputs=facts.TABLE_INPUTS,
    version=7,
)
"""Version 2: indicators 3-6 (decisions, advice, reviews, amendments, waits, AP) added.
Version 3: birth months per registering organisation, and their conflicts.
Version 4: requests for assessment and decisions to amend, for the backlogs.
Version 5: plans in force at go-live (`ehc_plans.migrated`), referrals closed and diagnosed.
Version 6: the LD register, health checks, the dynamic support register, mediation, tribunal
appeals and complaints.
Version 7: assessments recorded at their step at go-live (`ehc.assessment_step_recorded`)."""
