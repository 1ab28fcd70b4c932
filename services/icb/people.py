"""What the NHS organisation's record says about a person, milestone by milestone.

Raw identifiers (NHS number, name, full date of birth) live in `services.domain.people` and stay in
the organisation's store. Public methods check the rules and raise `DomainError` naming the
refused event and the reason; the private `@event` methods only record, and carry everything
the shared event needs. No I/O.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import event

from contracts import timescales
from services.domain.aggregates import Aggregate, MigratedFromSinceV2
from services.domain.people import RegisteredPerson

ANNUAL_HEALTH_CHECK_FROM_AGE = 14
"""GP learning-disability register annual health checks start at 14 (NHS England DES)."""


class Patient(RegisteredPerson):
    """A child or young person on this NHS organisation's records."""

    org_label = "NHS organisation "

    def start_record(self) -> None:
        self.plan_flags: dict[str, date] = {}
        """LA code -> the date the flag was set, for the flags that are set now."""
        self.health_checks: set[date] = set()
        self.dsr_status: str | None = None
        """The dynamic support register rating now (None: never on the register)."""
        self.adult_referrals: dict[str, date] = {}
        """Adult service -> the date it accepted the referral."""
        self.transferred: dict[str, date] = {}
        self.named_worker_assigned_on: date | None = None
        self.care_summary_updated_on: date | None = None

    # -- the health record's own marker that the person has an EHC plan ---------------------

    def set_ehc_plan_flag(self, *, set_on: date, la_code: str) -> None:
        what = "health.ehc_plan_flag_set"
        self.not_before_birth(what, "set_on", set_on)
        if la_code in self.plan_flags:
            raise self.refuse(
                what,
                f"the EHC plan flag for LA {la_code} is already set (since "
                f"{self.plan_flags[la_code]}); clear it before setting it again",
            )
        self._ehc_plan_flag_set(set_on=set_on, la_code=la_code)

    @event("EhcPlanFlagSet")
    def _ehc_plan_flag_set(self, set_on: date, la_code: str) -> None:
        self.plan_flags[la_code] = set_on

    def clear_ehc_plan_flag(self, *, cleared_on: date, la_code: str) -> None:
        what = "health.ehc_plan_flag_cleared"
        set_on = self.plan_flags.get(la_code)
        if set_on is None:
            raise self.refuse(
                what, f"the EHC plan flag for LA {la_code} is not set, so it cannot be cleared"
            )
        if cleared_on < set_on:
            raise self.refuse(
                what, f"cleared_on {cleared_on} is before the flag was set on {set_on}"
            )
        self._ehc_plan_flag_cleared(cleared_on=cleared_on, la_code=la_code)

    @event("EhcPlanFlagCleared")
    def _ehc_plan_flag_cleared(self, cleared_on: date, la_code: str) -> None:
        del self.plan_flags[la_code]

    # -- checks, registers and summaries ---------------------------------------------------
    class AnnualHealthCheckCompleted(Aggregate.Event, MigratedFromSinceV2):
        """Stored version 2 added `migrated_from` (a version 1 check was observed live)."""

        completed_on: date
        health_action_plan: bool

    class DsrStatusChanged(Aggregate.Event, MigratedFromSinceV2):
        """Stored version 2 added `migrated_from` (a version 1 rating was observed live)."""

        changed_on: date
        status: str

    def complete_annual_health_check(
        self, *, completed_on: date, health_action_plan: bool, migrated_from: str | None = None
    ) -> None:
        what = "health.annual_health_check_completed"
        fourteenth = timescales.birthday(self.born_on, ANNUAL_HEALTH_CHECK_FROM_AGE)
        if completed_on < fourteenth:
            raise self.refuse(
                what,
                f"completed_on {completed_on} is before their 14th birthday; learning "
                "disability annual health checks start at 14",
            )
        if completed_on in self.health_checks:
            raise self.refuse(what, f"an annual health check on {completed_on} is already recorded")
        self._annual_health_check_completed(
            completed_on=completed_on,
            health_action_plan=health_action_plan,
            migrated_from=migrated_from,
        )

    @event(AnnualHealthCheckCompleted)
    def _annual_health_check_completed(
        self, completed_on: date, health_action_plan: bool, migrated_from: str | None
    ) -> None:
        self.health_checks.add(completed_on)

    def change_dsr_status(
        self, *, changed_on: date, status: str, migrated_from: str | None = None
    ) -> None:
        what = "health.dsr_status_changed"
        self.not_before_birth(what, "changed_on", changed_on)
        if status == "removed" and self.dsr_status in (None, "removed"):
            raise self.refuse(
                what, "the person is not on the dynamic support register, so cannot be removed"
            )
        if status == self.dsr_status:
            raise self.refuse(what, f"the DSR status is already {status}")
        self._dsr_status_changed(changed_on=changed_on, status=status, migrated_from=migrated_from)

    @event(DsrStatusChanged)
    def _dsr_status_changed(self, changed_on: date, status: str, migrated_from: str | None) -> None:
        self.dsr_status = status

    def update_care_summary(self, *, updated_on: date, complex_health_needs: bool) -> None:
        self.not_before_birth("health.care_summary_updated", "updated_on", updated_on)
        self._care_summary_updated(updated_on=updated_on, complex_health_needs=complex_health_needs)

    @event("CareSummaryUpdated")
    def _care_summary_updated(self, updated_on: date, complex_health_needs: bool) -> None:
        self.care_summary_updated_on = updated_on

    # -- transition to adult services (NICE NG43) -------------------------------------------
    def assign_named_worker(self, *, assigned_on: date, worker_role: str) -> None:
        self.not_before_birth("transition.named_worker_assigned", "assigned_on", assigned_on)
        self._named_worker_assigned(assigned_on=assigned_on, worker_role=worker_role)

    @event("NamedWorkerAssigned")
    def _named_worker_assigned(self, assigned_on: date, worker_role: str) -> None:
        self.named_worker_assigned_on = assigned_on

    def accept_adult_services_referral(
        self, *, accepted_on: date, service: str, agreed_transfer_on: date | None
    ) -> None:
        what = "health.adult_services_referral_accepted"
        self.not_before_birth(what, "accepted_on", accepted_on)
        if service in self.adult_referrals:
            raise self.refuse(
                what, f"{service} already accepted the referral on {self.adult_referrals[service]}"
            )
        if agreed_transfer_on is not None and agreed_transfer_on < accepted_on:
            raise self.refuse(
                what, f"agreed_transfer_on {agreed_transfer_on} is before accepted_on {accepted_on}"
            )
        self._adult_services_referral_accepted(
            accepted_on=accepted_on, service=service, agreed_transfer_on=agreed_transfer_on
        )

    @event("AdultServicesReferralAccepted")
    def _adult_services_referral_accepted(
        self, accepted_on: date, service: str, agreed_transfer_on: date | None
    ) -> None:
        self.adult_referrals[service] = accepted_on

    def transfer_to_adult_services(
        self, *, transferred_on: date, service: str, receiving_org: str | None
    ) -> None:
        what = "health.transferred_to_adult_services"
        accepted_on = self.adult_referrals.get(service)
        if accepted_on is None:
            raise self.refuse(
                what,
                f"no referral to {service} has been accepted; send "
                "health.accept_adult_services_referral first",
            )
        if service in self.transferred:
            raise self.refuse(
                what, f"care already transferred to {service} on {self.transferred[service]}"
            )
        if transferred_on < accepted_on:
            raise self.refuse(
                what,
                f"transferred_on {transferred_on} is before {service} accepted the "
                f"referral on {accepted_on}",
            )
        self._transferred_to_adult_services(
            transferred_on=transferred_on, service=service, receiving_org=receiving_org
        )

    @event("TransferredToAdultServices")
    def _transferred_to_adult_services(
        self, transferred_on: date, service: str, receiving_org: str | None
    ) -> None:
        self.transferred[service] = transferred_on
