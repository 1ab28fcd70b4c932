"""Who publishes what: organisation kinds and the event types each may publish.

Which organisations a partnership holds (the demo one by default) is data:
`runtime/partnership.py`.

Every kind registers people and erases what it published about them (`person.erased`): each
organisation is controller of its own data, so erasure is per organisation, and a partnership-
wide erasure is every organisation that holds the person erasing its own.

Declared once (like eventsourcing's `System`): services enforce it before publishing, and the
NATS permissions and the embedded runtime are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.subjects import org_commands, org_events


class OrgKind(StrEnum):
    LA = "la"
    ICB = "icb"  # ICBs and NHS trusts run the same service
    PROVIDER = "provider"


PUBLISHES: dict[OrgKind, frozenset[str]] = {
    OrgKind.LA: frozenset({
        "person.registered", "person.erased", "ehc.assessment_requested", "ehc.assessment_decided",
        "ehc.advice_requested", "ehc.plan_issued", "ehc.plan_in_force_recorded",
        "ehc.assessment_step_recorded",
        "ehc.plan_not_issued", "ehc.annual_review_held", "ehc.review_outcome",
        "ehc.plan_amended", "ehc.plan_ceased",
        "transition.plan_agreed", "transition.named_worker_assigned",
        "adult_social_care.transition_assessment_completed", "ap.placement_commissioned",
        "disagreement.mediation_advice_sought", "disagreement.mediation_held",
        "disagreement.appeal_registered", "disagreement.appeal_decided",
        "disagreement.complaint_received", "disagreement.complaint_resolved",
    }),
    OrgKind.ICB: frozenset({
        "person.registered", "person.erased", "health.referral_made", "health.assessment_started",
        "health.referral_closed",
        "health.diagnosis_recorded", "ehc.advice_returned", "health.annual_health_check_completed",
        "health.dsr_status_changed", "health.care_summary_updated", "health.ehc_plan_flag_set",
        "health.ehc_plan_flag_cleared", "health.adult_services_referral_accepted",
        "health.transferred_to_adult_services", "transition.named_worker_assigned",
        "disagreement.complaint_received", "disagreement.complaint_resolved",
    }),
    OrgKind.PROVIDER: frozenset({
        "person.registered", "person.erased", "ap.placement_started", "ap.placement_ended",
        "provider.part_time_timetable_started", "provider.part_time_timetable_ended",
        "provider.post16_destination_confirmed",
    }),
}


@dataclass(frozen=True)
class Organisation:
    code: str
    kind: OrgKind
    name: str

    def may_publish(self, event_type: str) -> bool:
        return event_type in PUBLISHES[self.kind]

    @property
    def event_subjects(self) -> str:
        return org_events(self.code)

    @property
    def command_subjects(self) -> str:
        return org_commands(self.code)
