"""Health pathways: referrals and their waits, diagnoses, and advice returned for EHC assessments.

Each aggregate is keyed by the organisation's own reference (`reference_id`), so the same
referral id always means the same referral. Stored events carry every field the shared event
needs, so translation reads the event alone. No I/O.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from services.domain.aggregates import Aggregate, DomainError, MigratedFromSinceV2, reference_id


class Referral(Aggregate):
    """A referral onto a health pathway, from acceptance onto the waiting list to the first
    assessment appointment (which ends the wait)."""

    class Made(Aggregate.Created):
        """Stored version 2 added `priority` (a version 1 referral was triaged routine);
        version 3 `migrated_from` (a version 2 referral was observed live)."""

        class_version: ClassVar[int] = 3
        org: str
        referral_id: str
        person_id: UUID
        referred_on: date
        pathway: str
        priority: str
        migrated_from: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["priority"] = "routine"

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["migrated_from"] = None

    @staticmethod
    def create_id(org: str, referral_id: str) -> UUID:
        return reference_id(org, "referral", referral_id)

    @event(Made)
    def __init__(
        self,
        org: str,
        referral_id: str,
        person_id: UUID,
        referred_on: date,
        pathway: str,
        priority: str,
        migrated_from: str | None,
    ) -> None:
        self.org = org
        self.referral_id = referral_id
        self.person_id = person_id
        self.referred_on = referred_on
        self.pathway = pathway
        self.priority = priority
        self.started_on: date | None = None
        self.closed_on: date | None = None

    def start_assessment(self, *, started_on: date) -> None:
        what = f"health.assessment_started for referral {self.referral_id}"
        if self.closed_on is not None:
            raise DomainError(f"{what}: the referral was closed on {self.closed_on}")
        if self.started_on is not None:
            raise DomainError(f"{what}: the first assessment was already on {self.started_on}")
        if started_on < self.referred_on:
            raise DomainError(
                f"{what}: started_on {started_on} is before the referral on {self.referred_on}"
            )
        self._assessment_started(
            referral_id=self.referral_id, pathway=self.pathway, started_on=started_on
        )

    @event("AssessmentStarted")
    def _assessment_started(self, referral_id: str, pathway: str, started_on: date) -> None:
        self.started_on = started_on

    def close(self, *, closed_on: date, reason: str) -> None:
        """Closed without assessment: refused once an assessment started (that ended the wait)."""
        what = f"health.referral_closed for referral {self.referral_id}"
        if self.closed_on is not None:
            raise DomainError(f"{what}: already closed on {self.closed_on}")
        if self.started_on is not None:
            raise DomainError(
                f"{what}: its first assessment was on {self.started_on}; a referral closed "
                "without assessment is one that never had one"
            )
        if closed_on < self.referred_on:
            raise DomainError(
                f"{what}: closed_on {closed_on} is before the referral on {self.referred_on}"
            )
        self._closed(
            referral_id=self.referral_id, pathway=self.pathway, closed_on=closed_on, reason=reason
        )

    @event("Closed")
    def _closed(self, referral_id: str, pathway: str, closed_on: date, reason: str) -> None:
        self.closed_on = closed_on


class Diagnosis(Aggregate):
    """A recorded diagnosis. It answers a referral (held here or, with `referral_org`, by
    another organisation) or says why there was none: a diagnosis from nowhere cannot be
    counted in the pathway waits."""

    @staticmethod
    def create_id(org: str, diagnosis_id: str) -> UUID:
        return reference_id(org, "diagnosis", diagnosis_id)

    @staticmethod
    def check_provenance(
        diagnosis_id: str,
        referral_id: str | None,
        no_referral_reason: str | None,
        referral_org: str | None = None,
    ) -> None:
        """The contract's own rule (`contracts.health.DiagnosisRecorded`), refused here so that
        nothing is stored that cannot be shared."""
        what = f"health.diagnosis_recorded for diagnosis {diagnosis_id}"
        if referral_org is not None and referral_id is None:
            raise DomainError(
                f"{what}: referral_org names who holds the referral; give its referral_id too"
            )
        if referral_id is None and no_referral_reason is None:
            raise DomainError(
                f"{what}: give the referral_id it answers, or a no_referral_reason saying why "
                "there was none"
            )
        if referral_id is not None and no_referral_reason is not None:
            raise DomainError(f"{what}: give either referral_id or no_referral_reason, not both")

    class Recorded(Aggregate.Created, MigratedFromSinceV2):
        """Stored version 2 added `migrated_from` (a version 1 diagnosis was observed live)."""

        org: str
        diagnosis_id: str
        person_id: UUID
        diagnosed_on: date
        condition: str
        referral_id: str | None
        referral_org: str | None
        no_referral_reason: str | None

    @event(Recorded)
    def __init__(
        self,
        org: str,
        diagnosis_id: str,
        person_id: UUID,
        diagnosed_on: date,
        condition: str,
        referral_id: str | None,
        referral_org: str | None,
        no_referral_reason: str | None,
        migrated_from: str | None,
    ) -> None:
        self.diagnosis_id = diagnosis_id
        self.person_id = person_id
        self.diagnosed_on = diagnosed_on
        self.condition = condition


class AdviceReturn(Aggregate):
    """Health advice returned for an LA's request for advice (reg. 8: within 6 weeks). Keyed by
    the requesting LA and its advice request id, so the same request is answered once."""

    @staticmethod
    def create_id(org: str, requesting_la: str, advice_request_id: str) -> UUID:
        return reference_id(org, "advice", f"{requesting_la}/{advice_request_id}")

    @event("Returned")
    def __init__(
        self,
        org: str,
        person_id: UUID,
        case_id: str,
        advice_request_id: str,
        requesting_la: str,
        returned_on: date,
        advice_giver: str,
    ) -> None:
        self.person_id = person_id
        self.returned_on = returned_on
