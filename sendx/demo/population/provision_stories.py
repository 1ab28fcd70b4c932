"""Where a synthetic child is educated: placements, AP, part-time timetables, post-16 moves.

The LA commissions AP and names the plan's placement; schools, colleges and AP providers record
what happened on their side (a placement started or ended, a timetable, a destination).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sendx.demo.population.calendar import birthday, day_str, march_of_year11

if TYPE_CHECKING:
    from sendx.demo.population.stories import Casebook, Child

DESTINATIONS_16 = ("sixth_form", "fe_college", "specialist_post16", "apprenticeship",
                   "supported_internship", "neet", "other")
DESTINATIONS_16_WEIGHTS = (25, 40, 20, 4, 3, 5, 3)
DESTINATIONS_19 = ("supported_internship", "employment", "apprenticeship", "neet", "other")
DESTINATIONS_19_WEIGHTS = (35, 20, 10, 20, 15)


class ProvisionStories:
    def __init__(self, book: Casebook) -> None:
        self.book = book

    def placement_for(self, child: Child, issued: int) -> tuple[str, str | None]:
        """The plan's placement and, when it is a partnership provider, its code."""
        book, cast = self.book, self.book.cast
        if child.age_on(issued) >= 16:
            placement = "post16" if book.chance(0.7) else "special"
        else:
            placement = book.rng.choices(
                ("mainstream", "special", "resourced_provision", "ap", "other"), (45, 35, 10, 3, 7)
            )[0]
        pool = {"post16": cast.colleges, "ap": cast.ap_providers}.get(placement, cast.schools)
        if placement == "other" or not book.chance(0.6 if placement != "ap" else 0.9):
            return placement, None
        return placement, book.rng.choice(pool)

    def during_plan(self, child: Child, issued: int, ceased: int, provider: str | None) -> None:
        book, cast = self.book, self.book.cast
        if book.chance(0.07):
            on = issued + book.between(30, 900)
            if on < ceased:
                self.ap_placement(child, on)
        if provider in cast.schools and book.chance(0.06):
            self.part_time_timetable(child, provider, issued + book.between(0, 700))
        year11 = march_of_year11(child.born)
        if provider in cast.schools and issued < year11 < ceased and book.chance(0.8):
            on_time = book.chance(0.85)
            on = year11 - book.between(0, 120) if on_time else year11 + book.between(1, 90)
            destination = book.rng.choices(DESTINATIONS_16, DESTINATIONS_16_WEIGHTS)[0]
            self.destination(child, provider, on, destination, date.fromordinal(year11).year)
        nineteen = birthday(child.born, 19)
        if provider in cast.colleges and issued < nineteen < ceased and book.chance(0.7):
            destination = book.rng.choices(DESTINATIONS_19, DESTINATIONS_19_WEIGHTS)[0]
            self.destination(child, provider, nineteen - book.between(0, 150), destination,
                             date.fromordinal(nineteen).year)

    def destination(self, child: Child, provider: str, on: int, destination: str,
                    year: int) -> None:
        self.book.record(provider, child, "provider.post16_destination_confirmed", on,
                         {"confirmed_on": day_str(on), "destination": destination,
                          "moves_on": f"{year}-09-01"})

    def part_time_timetable(self, child: Child, provider: str, on: int) -> None:
        book = self.book
        timetable_id = book.local_id(provider, "T")
        reason = book.rng.choices(("medical", "reintegration", "behaviour", "send", "other"),
                                  (30, 25, 20, 20, 5))[0]
        book.record(provider, child, "provider.part_time_timetable_started", on,
                    {"timetable_id": timetable_id, "started_on": day_str(on),
                     "hours_per_week": book.between(10, 50) / 2, "reason": reason})
        if book.chance(0.85):
            end = on + book.between(28, 160)
            book.record(provider, child, "provider.part_time_timetable_ended", end,
                        {"timetable_id": timetable_id, "ended_on": day_str(end)})

    def ap_placement(self, child: Child, on: int) -> None:
        """Commissioned by the LA (10% arranged by a school instead), started and ended by AP."""
        book, rng = self.book, self.book.rng
        provider = rng.choice(book.cast.ap_providers)
        placement_id = book.local_id(provider, "AP")
        tier = rng.choices((1, 2, 3), (20, 50, 30))[0]
        reason = rng.choices(("exclusion", "medical", "send", "behaviour", "other"),
                             (35, 15, 20, 25, 5))[0]
        commissioned_by = None
        if book.chance(0.9):
            commissioned_by = child.la
            book.record(child.la, child, "ap.placement_commissioned", on,
                        {"placement_id": placement_id, "commissioned_on": day_str(on),
                         "provider": provider, "tier": tier, "reason": reason})
        started = on + book.between(3, 21)
        part_time = book.chance(0.35)
        book.record(provider, child, "ap.placement_started", started,
                    {"placement_id": placement_id, "started_on": day_str(started), "tier": tier,
                     "part_time": part_time, "reason": reason, "commissioned_by": commissioned_by})
        if part_time and book.chance(0.5):
            self.part_time_timetable(child, provider, started)
        ended = started + book.between(42, 300)
        outcome = rng.choices(("reintegrated", "moved", "other"), (45, 35, 20))[0]
        book.record(provider, child, "ap.placement_ended", ended,
                    {"placement_id": placement_id, "ended_on": day_str(ended), "outcome": outcome})
