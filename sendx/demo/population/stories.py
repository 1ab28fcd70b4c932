"""What happens to each synthetic child, when, and which organisation records it.

`Casebook` simulates one partnership's children in the world (occurred dates) and in each
organisation's records (a recording lag per organisation kind), leaving unordered `Stub`s;
`sendx.demo.population` then orders them into each source's log and onto the bus. Rates and waits
follow `shared/domain.md` (official statistics, statutory timescales) closely enough for load,
not for analysis. Every random choice comes from the one `random.Random` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from runtime.ownership import OPENS, REFERS
from sendx.demo.population.calendar import (
    DAY,
    WINDOW_END,
    WINDOW_START,
    day_str,
    feb_of_year6,
    last_day_at_25,
    march_of_year11,
    timestamp,
)
from sendx.demo.population.health_stories import HealthStories
from sendx.demo.population.provision_stories import ProvisionStories
from sendx.demo.population.transition_stories import preparing_for_adulthood

NEEDS = ("ASD", "SLCN", "SEMH", "MLD", "SPLD", "SLD", "PD", "HI", "PMLD", "VI", "MSI", "OTH")
NEED_WEIGHTS = (31.5, 22, 15, 9, 4, 4, 3, 2, 1, 1, 0.3, 3)
REQUEST_AGE_BANDS = ((0, 5), (5, 11), (11, 16), (16, 20), (20, 24))
REQUEST_AGE_WEIGHTS = (28, 40, 22, 8, 2)
REQUEST_YEAR_WEIGHTS = {2019: 1.0, 2020: 0.95, 2021: 1.1, 2022: 1.2, 2023: 1.3, 2024: 1.4,
                        2025: 1.45, 2026: 1.2}
CEASE_REASONS = ("moved_to_another_la", "left_education_or_training", "needs_met",
                 "moved_outside_england", "other", "deceased")
CEASE_WEIGHTS = (25, 30, 25, 6, 13, 1)
LD_NEEDS = frozenset({"SLD", "PMLD", "MLD"})

Stub = tuple[int, int, str, str, str, dict, "str | None"]
"""(recorded_ts, occurred_ts, source_org, person_key, type, payload, correlation_id)"""


@dataclass(frozen=True)
class Cast:
    """The organisations of one partnership and how much of the population each LA holds."""

    las: tuple[str, ...]
    la_weights: tuple[float, ...]
    icb: str
    trust: str
    schools: tuple[str, ...]
    colleges: tuple[str, ...]
    ap_providers: tuple[str, ...]

    @property
    def providers(self) -> tuple[str, ...]:
        return self.schools + self.colleges + self.ap_providers

    @property
    def codes(self) -> tuple[str, ...]:
        return (*self.las, self.icb, self.trust, *self.providers)


@dataclass
class Child:
    key: str
    born: int  # date ordinal
    la: str
    registered: set[str] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)
    flagged_la: str | None = None

    @property
    def birth_month(self) -> str:
        return day_str(self.born)[:7]

    def age_on(self, day: int) -> float:
        return (day - self.born) / 365.25


class Casebook:
    """Records one partnership's events as stubs; `stubs` grows as children are simulated."""

    LAG_DAYS = {"la": ((0.78, 0, 3), (0.19, 4, 45), (0.03, 46, 180)),
                "icb": ((0.9, 0, 2), (0.1, 3, 60)),
                "provider": ((0.85, 0, 10), (0.15, 11, 60))}

    def __init__(self, rng: random.Random, cast: Cast) -> None:
        self.rng = rng
        self._random = rng.random
        self.cast = cast
        self.stubs: list[Stub] = []
        self._kind = {code: "la" for code in cast.las} | {cast.icb: "icb", cast.trust: "icb"}
        self._kind |= {code: "provider" for code in cast.providers}
        self._counters: dict[str, int] = {}
        self._opened_at: dict[tuple[str, str, str], int] = {}
        """(source, thing, reference) -> when the source recorded opening it."""
        self.health = HealthStories(self)
        self.provision = ProvisionStories(self)

    # ------------------------------------------------------------------ plumbing
    def local_id(self, org: str, letter: str) -> str:
        key = f"{org}-{letter}"
        self._counters[key] = n = self._counters.get(key, 0) + 1
        return f"{key}-{n:06d}"

    def uuid(self) -> str:
        bits = self.rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC << 60)
        h = f"{bits | (0x4000 << 64) | (0x8 << 60):032x}"  # RFC 4122 version 4, variant 1
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high]; `random()` is several times faster than `randint`."""
        return low + int(self._random() * (high - low + 1))

    def chance(self, p: float) -> bool:
        return self._random() < p

    def record(self, source: str, child: Child, event_type: str, day: int, payload: dict,
               correlation_id: str | None = None) -> bool:
        """Store one event as `source` records it; events outside the window never reach the bus."""
        if not WINDOW_START <= day < WINDOW_END:
            return False
        between = self.between
        occurred = timestamp(day) + between(8 * 3600, 17 * 3600)
        roll, lag = self._random(), 0
        for share, low, high in self.LAG_DAYS[self._kind[source]]:
            if roll < share:
                lag = between(low, high)
                break
            roll -= share
        recorded = occurred + lag * DAY + between(60, 6 * 3600)
        recorded = self._after_opening(source, event_type, payload, recorded)
        if recorded is None or recorded >= timestamp(WINDOW_END):
            return False
        self._opens(source, event_type, payload, recorded)
        if source not in child.registered:
            child.registered.add(source)
            self.stubs.append((recorded - 1, occurred, source, child.key, "person.registered",
                               {"birth_month": child.birth_month}, None))
        self.stubs.append((recorded, occurred, source, child.key, event_type, payload,
                           correlation_id))
        return True

    def _after_opening(
        self, source: str, event_type: str, payload: dict, recorded: int
    ) -> int | None:
        """When `source` records an event acting on a case, plan, referral, placement or
        timetable (`runtime.ownership.REFERS`): not before it recorded the opening (its service
        refuses it before), and never when the opening was not recorded at all (None)."""
        for ref in REFERS.get(event_type, ()):
            value = ref.named_by(source, payload.get)
            if value is None:
                continue
            opened_at = self._opened_at.get((source, ref.thing, value))
            if opened_at is None:
                return None
            recorded = max(recorded, opened_at + 1)
        return recorded

    def _opens(self, source: str, event_type: str, payload: dict, recorded: int) -> None:
        for ref in OPENS.get(event_type, ()):
            self._opened_at[(source, ref.thing, payload[ref.field])] = recorded

    def new_child(self, la: str | None, age: float, on: int) -> Child:
        rng = self.rng
        la = la or rng.choices(self.cast.las, self.cast.la_weights)[0]
        born = on - int(age * 365.25) - self.between(0, 364)
        return Child(f"p_{rng.getrandbits(128):032x}", born, la)

    def request_day(self) -> int:
        rng = self.rng
        year = rng.choices(tuple(REQUEST_YEAR_WEIGHTS), tuple(REQUEST_YEAR_WEIGHTS.values()))[0]
        start = max(date(year, 1, 1).toordinal(), WINDOW_START)
        return self.between(start, min(date(year, 12, 31).toordinal(), WINDOW_END - 1))

    def request_age(self) -> float:
        low, high = self.rng.choices(REQUEST_AGE_BANDS, REQUEST_AGE_WEIGHTS)[0]
        return self.rng.uniform(low, high)

    # ------------------------------------------------------------------ EHC stories
    def open_case(self, child: Child, requested: int, decision: str) -> tuple[str, str, int]:
        """Request and decision to assess (6 weeks; about 80% on time)."""
        case_id = self.local_id(child.la, "C")
        corr = self.uuid()
        by = self.rng.choices(("parent", "school_or_college", "health", "social_care", "other"),
                              (55, 30, 8, 5, 2))[0]
        self.record(child.la, child, "ehc.assessment_requested", requested,
                    {"case_id": case_id, "requested_on": day_str(requested), "requested_by": by},
                    corr)
        decided = requested + (self.between(14, 42) if self.chance(0.8) else self.between(43, 84))
        self.record(child.la, child, "ehc.assessment_decided", decided,
                    {"case_id": case_id, "decided_on": day_str(decided), "decision": decision},
                    corr)
        return case_id, corr, decided

    def seek_advice(self, child: Child, case_id: str, corr: str, decided: int) -> None:
        """Health advice from the ICB (returned on the bus), EP and social care advice in-house."""
        asked = decided + self.between(0, 7)
        givers = ["health", "educational_psychology"]
        givers += ["social_care"] if self.chance(0.3) else []
        for giver in givers:
            advice_id = self.local_id(child.la, "A")
            from_org = self.cast.icb if giver == "health" else None
            self.record(child.la, child, "ehc.advice_requested", asked,
                        {"case_id": case_id, "advice_request_id": advice_id,
                         "requested_on": day_str(asked), "advice_giver": giver,
                         "requested_from": from_org}, corr)
            if from_org:
                back = asked + (self.between(14, 42) if self.chance(0.7) else self.between(43, 100))
                self.record(from_org, child, "ehc.advice_returned", back,
                            {"case_id": case_id, "advice_request_id": advice_id,
                             "requesting_la": child.la, "returned_on": day_str(back),
                             "advice_giver": giver}, corr)

    def plan_child(self) -> None:
        """A child whose request leads to a plan, reviewed yearly until ceased or today."""
        requested = self.request_day()
        child = self.new_child(None, self.request_age(), requested)
        if self.chance(0.55):
            self.health.referral(child, max(WINDOW_START, requested - self.between(0, 700)),
                                 "neurodevelopmental")
        case_id, corr, decided = self.open_case(child, requested, "assess")
        self.seek_advice(child, case_id, corr, decided)
        exception = None
        if self.chance(0.04):
            exception = self.rng.choice(("away_4_weeks", "exceptional_personal_circumstances",
                                         "school_closed_4_weeks"))
            issued = requested + self.between(141, 240)
        elif self.chance(0.48):
            issued = max(decided + 21, requested + self.between(84, 140))
        else:
            issued = requested + self.between(141, 300)
        need = self.rng.choices(NEEDS, NEED_WEIGHTS)[0]
        if need in LD_NEEDS and self.chance(0.5):
            child.conditions.add("learning_disability")
        placement, provider = self.provision.placement_for(child, issued)
        plan_id = self.local_id(child.la, "P")
        if not self.record(child.la, child, "ehc.plan_issued", issued,
                           {"case_id": case_id, "plan_id": plan_id, "issued_on": day_str(issued),
                            "primary_need": need, "placement": placement,
                            "placement_provider": provider, "exception": exception}, corr):
            return
        self.health.flag_plan(child, issued)
        ceased = self.review_until_ceased(child, plan_id, issued)
        self.health.clear_flag(child, ceased)
        self.health.extra_pathways(child, issued, need)
        if child.conditions & {"autism", "learning_disability"} and self.chance(0.05):
            self.health.dsr(child)
        self.provision.during_plan(child, issued, ceased, provider)
        if child.age_on(ceased) >= 13.5:
            preparing_for_adulthood(self, child, need, ceased)

    def review_until_ceased(self, child: Child, plan_id: str, issued: int) -> int:
        """Annual reviews, outcomes, amendments and phase transfers; returns the cease day."""
        rng, la = self.rng, child.la
        max_age_end = last_day_at_25(child.born)
        for transfer_day, trigger in ((feb_of_year6(child.born), "phase_transfer"),
                                      (march_of_year11(child.born), "post16_transfer")):
            if issued < transfer_day - 120 and self.chance(0.85):
                on = transfer_day - self.between(0, 45) if self.chance(0.8) else transfer_day + 30
                self.record(la, child, "ehc.plan_amended", on,
                            {"plan_id": plan_id, "amended_on": day_str(on), "trigger": trigger,
                             "review_held_on": None})
        last = issued
        while True:
            on_time = self.chance(0.85)
            held = last + 365 + (-self.between(0, 60) if on_time else self.between(1, 120))
            early_cease = last + self.between(30, 360) if self.chance(0.03) else None
            if min(held, max_age_end, early_cease or held) >= WINDOW_END:
                return WINDOW_END
            if early_cease and early_cease < held:
                return self.cease(child, plan_id, early_cease, "moved_to_another_la")
            if max_age_end < held:
                return self.cease(child, plan_id, max_age_end, "max_age")
            age = child.age_on(held)
            self.record(la, child, "ehc.annual_review_held", held,
                        {"plan_id": plan_id, "held_on": day_str(held),
                         "preparing_for_adulthood": age >= 13.5})
            decided = held + (self.between(7, 28) if self.chance(0.8) else self.between(29, 60))
            cease_p = 0.04 if age < 16 else 0.10 if age < 19 else 0.25
            outcome = rng.choices(("cease", "amend", "maintain"), (cease_p, 0.4, 0.6 - cease_p))[0]
            self.record(la, child, "ehc.review_outcome", decided,
                        {"plan_id": plan_id, "review_held_on": day_str(held),
                         "decided_on": day_str(decided), "outcome": outcome})
            if outcome == "cease":
                reason = rng.choices(CEASE_REASONS, CEASE_WEIGHTS)[0]
                return self.cease(child, plan_id, decided + self.between(14, 60), reason)
            if outcome == "amend":
                on = held + (self.between(30, 84) if self.chance(0.6) else self.between(85, 150))
                self.record(la, child, "ehc.plan_amended", on,
                            {"plan_id": plan_id, "amended_on": day_str(on),
                             "trigger": "annual_review", "review_held_on": day_str(held)})
            last = held

    def cease(self, child: Child, plan_id: str, on: int, reason: str) -> int:
        self.record(child.la, child, "ehc.plan_ceased", on,
                    {"plan_id": plan_id, "ceased_on": day_str(on), "reason": reason})
        return min(on, WINDOW_END)

    def refused_child(self) -> None:
        requested = self.request_day()
        child = self.new_child(None, self.request_age(), requested)
        if self.chance(0.15):
            self.health.referral(child, max(WINDOW_START, requested - 200), "neurodevelopmental")
        self.open_case(child, requested, "refuse")

    def not_issued_child(self) -> None:
        requested = self.request_day()
        child = self.new_child(None, self.request_age(), requested)
        case_id, corr, decided = self.open_case(child, requested, "assess")
        self.seek_advice(child, case_id, corr, decided)
        on = requested + (self.between(70, 112) if self.chance(0.8) else self.between(113, 160))
        reason = self.rng.choices(("needs_met_without_plan", "withdrawn", "other"), (80, 15, 5))[0]
        self.record(child.la, child, "ehc.plan_not_issued", on,
                    {"case_id": case_id, "decided_on": day_str(on), "reason": reason}, corr)
        if self.chance(0.03):  # the health record marks a plan the LA never issued
            self.health.flag_plan(child, on, always=True)

    def health_only_child(self) -> None:
        referred = self.request_day()
        child = self.new_child(None, self.rng.uniform(2, 17), referred)
        pathway = self.rng.choices(("neurodevelopmental", "slt", "camhs", "ot", "paediatrics"),
                                   (55, 15, 17, 6, 7))[0]
        self.health.referral(child, referred, pathway)
        self.health.after_diagnosis(child)

    def ap_only_child(self) -> None:
        on = self.request_day()
        child = self.new_child(None, self.rng.uniform(8, 16), on)
        self.provision.ap_placement(child, on)
