"""Backlog: referrals waiting for a first assessment on any day, by pathway and band.

By month this is the waiting part of indicator 5 (`health_waits.py`, whose bands and rule it
uses); here it is taken on any day. The definition shown beside the figures, the counting and
the published figure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from projections.dataset.backlog import Backlog, BacklogFigures, Days, each_day, open_between
from projections.dataset.counting import Tally, active_on, banded, new_tally, weeks_between
from projections.dataset.definition import define
from projections.dataset.facts import ReferralFact
from projections.dataset.figures import AreaFigure, Count
from projections.dataset.indicators.health_waits import PATHWAYS, WEEK_BANDS
from projections.readmodel.store import Snapshot

DEFINITION = define(
    "referrals-waiting",
    5,
    "Backlog: referrals waiting, by pathway and band",
    "For each local authority (the person's, as in indicator 5) and pathway, counted on the "
    "day: waiting = referrals (health.referral_made) dated on or before the day whose first "
    "assessment (health.assessment_started) had not happened by it, banded by the weeks "
    "waited at the day: 0-18 (under 18 weeks), 18-52 (18 up to under 52) and 52+ (52 weeks or "
    "more). By month, the same as indicator 5's waiting columns.",
    "NHS referral-to-treatment waiting list bands; the partnerships' neurodevelopmental "
    "waiting-time KPIs.",
    "waiting on the day",
)


def waiting_counts(referrals: Iterable[ReferralFact], days: Days) -> Tally:
    tally = new_tally()
    for label, day, r in each_day(days, referrals):
        if active_on(day, r.referred_on, r.started_on):
            band = banded(weeks_between(r.referred_on, day), WEEK_BANDS)
            tally[(label, r.pathway)][r.la_code].update(["waiting", band])
    return tally


def referrals_open(snapshot: Snapshot, first: date, last: date) -> list[ReferralFact]:
    return open_between(snapshot, "referrals", "referred_on", "started_on", first, last)


class ReferralsWaitingFigure(AreaFigure):
    pathway: str
    waiting: Count
    waiting_0_18_weeks: Count
    waiting_18_52_weeks: Count
    waiting_52_plus_weeks: Count


class ReferralsWaiting(BacklogFigures):
    figures: list[ReferralsWaitingFigure]


BACKLOG: Backlog[ReferralsWaiting] = Backlog(
    DEFINITION, referrals_open, waiting_counts, ReferralsWaitingFigure, ReferralsWaiting,
    ("waiting", *(name for _, _, name in WEEK_BANDS)), PATHWAYS, "pathway",
)
