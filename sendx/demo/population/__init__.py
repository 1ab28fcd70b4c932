"""A deterministic synthetic SEND population, streamed as contract events in bus delivery order:
the population the benchmarks (`bench/`) and the stream-reading tests publish, sized by a scale
and seeded. It is the demo's story generator (`sendx.demo.stories`) rendered as contract events,
so the demo's import extracts (`sendx.demo.extracts`) and this stream describe children who live
the same kind of stories (`LLR` is the demo's organisations with a few more providers).

    generate(scale, seed, today=None)       -> Iterator[Envelope]   validated payload models
    generate_wire(scale, seed, today=None)  -> Iterator[WireEvent]  (subject, msg_id, bytes)

Both yield the same events; the wire bytes equal `contracts.encode` of the validated envelope
(`generate` checks this for every event). Same scale, seed and `today`, same bytes: all
randomness comes from `random.Random` instances seeded from (seed, partnership index, child);
no global state.

**Shape.** A scale is a number of partnerships ("blocks"), each a cast of organisations: three
LAs, an ICB, a community trust, four schools (one a college) and two AP providers. A block's
children live their stories until `today` (default: the demo's 2026-10-31, or the run date if
that is earlier); what happened before 2019-01-01 is not on the bus. Each happening becomes the
contract event its command produces (`Command.event_type()`; the payload's fields filled from
the happening, then the command's defaults, then the payload model's), recorded by its source
after a lag (LA: same week mostly, 19% up to 6 weeks, 3% a backlog of months; ICB/trust: days,
sometimes weeks; providers: up to 2 months), never before the same source recorded the case,
plan, referral, placement or timetable the event acts on (its service refuses it before:
`runtime.ownership.REFERS`; an act on one never recorded in the window is not recorded either);
nothing recorded on or after `today` is kept.
Each source's log is its events in recorded order: `source_position` 1, 2, 3... and
`prev_hash` = SHA-256 hex of the previous event's encoded bytes (`contracts.chain.bytes_hash`).
Each source's relay then delivers its log in order on its own rhythm (live, hourly, nightly or
weekly batches, plus outages of days to weeks), and the bus order is the merge of those
deliveries. So within a source delivery follows `source_position`, while across organisations
events arrive out of order: an ICB's advice or plan flag often lands before the LA's request or
plan. Memory is bounded by one block (about 20,000 plans), so the national scale streams 42
blocks one after another in constant memory.

**Scales.** `tiny` (150 plans, ~3k events) and `small` (1,500 plans, ~34k events) for tests;
`partnership` = Leicester, Leicestershire and Rutland (856/855/857, ICB QK1, trust RT5): 20,000
children with a plan issued, and the block's other children (refused, not issued, still being
assessed, known to health or a provider only); `national` = 42 partnerships x 16,400 plans
(~690,000 plans).

**Event mix at partnership scale, seed 1** (run `python -m sendx.demo.population partnership 1`):

    adult_social_care.transition_assessment_completed        2,883
    ap.placement_commissioned                                1,110
    ap.placement_ended                                         979
    ap.placement_started                                     1,741
    disagreement.appeal_decided                                733
    disagreement.appeal_registered                             825
    disagreement.complaint_received                          2,094
    disagreement.complaint_resolved                          2,026
    disagreement.mediation_advice_sought                     2,557
    disagreement.mediation_held                              1,273
    ehc.advice_requested                                    69,782
    ehc.advice_returned                                     22,904
    ehc.annual_review_held                                  44,746
    ehc.assessment_decided                                  26,715
    ehc.assessment_requested                                26,926
    ehc.assessment_step_recorded                               869
    ehc.plan_amended                                        16,303
    ehc.plan_ceased                                          3,024
    ehc.plan_in_force_recorded                                 302
    ehc.plan_issued                                         19,894
    ehc.plan_not_issued                                      1,879
    ehc.review_outcome                                      43,867
    health.adult_services_referral_accepted                  5,581
    health.annual_health_check_completed                     4,992
    health.assessment_started                                7,614
    health.care_summary_updated                              4,907
    health.diagnosis_recorded                                6,026
    health.dsr_status_changed                                2,342
    health.ehc_plan_flag_cleared                             2,081
    health.ehc_plan_flag_set                                19,102
    health.referral_closed                                     118
    health.referral_made                                     8,418
    health.transferred_to_adult_services                     4,359
    person.registered                                       76,108
    provider.part_time_timetable_ended                         437
    provider.part_time_timetable_started                       766
    provider.post16_destination_confirmed                    2,092
    transition.named_worker_assigned                        10,947
    transition.plan_agreed                                   4,295
    total                                                  453,617
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import orjson

from contracts import Envelope, current_version, encode, model_for
from contracts.chain import bytes_hash
from contracts.subjects import event_subject
from contracts.topology import PUBLISHES, OrgKind
from runtime.ownership import OPENS, REFERS
from sendx.demo.children import DEMO_AP_PROVIDER, DEMO_SCHOOL, iter_children, story_today
from sendx.demo.population.calendar import WINDOW_START, iso, timestamp
from sendx.demo.stories import COMMAND_OF, DEMO_CAST, Cast, Happening, Story, kind_of, story_of

__all__ = ["LLR", "SCALES", "Scale", "WireEvent", "cast_for", "generate", "generate_wire",
           "kind_of"]


class WireEvent(NamedTuple):
    subject: str
    msg_id: str
    data: bytes


@dataclass(frozen=True)
class Scale:
    blocks: int
    plans_per_block: int
    """Children whose story issues a plan; the block's other children (refused, not issued,
    still open, health only, ...) come with them, as they come in the demo."""

    @property
    def plans(self) -> int:
        return self.blocks * self.plans_per_block


SCALES: dict[str, Scale] = {
    "tiny": Scale(1, 150),
    "small": Scale(1, 1_500),
    "partnership": Scale(1, 20_000),
    "national": Scale(42, 16_400),  # ~690,000 plans issued
}

LLR = Cast(las=DEMO_CAST.las, la_weights=DEMO_CAST.la_weights, icb=DEMO_CAST.icb,
           trust=DEMO_CAST.trust, schools=(DEMO_SCHOOL, "120002", "120003", "130001"),
           ap_providers=(DEMO_AP_PROVIDER, "AP002"))
"""The demo partnership's organisations (`sendx.demo.stories.DEMO_CAST`), with more schools (and
a college) and an AP provider more, as a partnership of ~20,000 plans has."""


def cast_for(block: int, blocks: int) -> Cast:
    """LLR for a one-partnership scale; otherwise made-up codes unique to each block."""
    if blocks == 1:
        return LLR
    return Cast(las=tuple(str(300 + 4 * block + i) for i in range(3)),
                la_weights=DEMO_CAST.la_weights, icb=f"Q{block:02d}", trust=f"R{block:02d}",
                schools=(*(f"1{block:02d}00{i}" for i in range(1, 4)), f"1{block:02d}101"),
                ap_providers=(f"AP{block:02d}1", f"AP{block:02d}2"))


# ---------------------------------------------------------------------------- the world
def block_stories(scale: Scale, seed: int, block: int, today: date) -> Iterator[Story]:
    """One block's children and their stories, until `plans_per_block` of them have a plan."""
    cast = cast_for(block, scale.blocks)
    plans = 0
    for child in iter_children(f"send-exchange:{seed}:{block}", cast.las, cast.la_weights):
        if plans >= scale.plans_per_block:
            return
        story = story_of(child, cast, today)
        plans += story.has_plan
        yield story


class Field(NamedTuple):
    """How one payload field is filled: its default (from the command, else the payload model;
    `...` if required), whether it is a float, when the model leaves it out."""

    name: str
    default: Any
    is_float: bool
    exclude_if: Callable[[Any], bool] | None


Stub = tuple[int, int, str, str, str, dict, str]
"""(recorded_ts, occurred_ts, source_org, person_key, type, payload, correlation_id)"""


class Recorder:
    """Turns stories into each source's records: a contract event per happening, recorded after
    a lag per organisation kind, each source registering a person before its first record."""

    LAG_DAYS = {OrgKind.LA: ((0.78, 0, 3), (0.19, 4, 45), (0.03, 46, 180)),
                OrgKind.ICB: ((0.9, 0, 2), (0.1, 3, 60)),
                OrgKind.PROVIDER: ((0.85, 0, 10), (0.15, 11, 60))}

    def __init__(self, rng: random.Random, cast: Cast, cut: date) -> None:
        self.rng, self._random, self.cast = rng, rng.random, cast
        self.cut = timestamp(cut.toordinal())
        self.kinds = {code: kind_of(cast, code) for code in cast.codes}
        self.stubs: list[Stub] = []
        self._opened_at: dict[tuple[str, str, str], int] = {}
        """(source, thing, reference) -> when the source recorded opening it."""
        self._payloads: dict[tuple[OrgKind, str], tuple[str, list[Field]]] = {}

    def uuid(self) -> str:
        bits = self.rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC << 60)
        h = f"{bits | (0x4000 << 64) | (0x8 << 60):032x}"  # RFC 4122 version 4, variant 1
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high]; `random()` is several times faster than `randint`."""
        return low + int(self._random() * (high - low + 1))

    def shape(self, kind: OrgKind, command: str) -> tuple[str, list[Field]]:
        """The event type a command produces, and how its payload's fields are filled."""
        if (kind, command) not in self._payloads:
            cmd = COMMAND_OF[kind, command]
            event_type = cmd.event_type()
            model = model_for(event_type, current_version(event_type))
            fields = []
            for name, info in model.model_fields.items():
                given = cmd.model_fields.get(name)
                source = given if given is not None and not given.is_required() else info
                fields.append(Field(name, ... if source.is_required() else source.default,
                                    info.annotation is float, getattr(info, "exclude_if", None)))
            self._payloads[kind, command] = event_type, fields
        return self._payloads[kind, command]

    def payload(self, kind: OrgKind, happening: Happening) -> tuple[str, dict[str, Any]]:
        """The contract payload of a happening, exactly as the payload model serialises it."""
        event_type, fields = self.shape(kind, happening.command)
        facts, payload = happening.facts, {}
        for field in fields:
            value = facts.get(field.name, field.default)
            if value is ...:
                raise ValueError(f"{happening.command} by {happening.org} has no {field.name}")
            if isinstance(value, date):
                value = value.isoformat()
            elif field.is_float and value is not None:
                value = float(value)
            if field.exclude_if is None or not field.exclude_if(value):
                payload[field.name] = value
        return event_type, payload

    def record(self, story: Story) -> None:
        """The story's happenings since the window opened, each recorded by its organisation."""
        person = f"p_{self.rng.getrandbits(128):032x}"
        birth_month = story.child.born_on.isoformat()[:7]
        registered: set[str] = set()
        correlations: dict[str, str] = {}
        between, cut = self.between, self.cut
        for happening in story.happenings:
            day = happening.on.toordinal()
            if day < WINDOW_START:
                continue
            kind = self.kinds[happening.org]
            occurred = timestamp(day) + between(8 * 3600, 17 * 3600)
            recorded = occurred + self.lag(kind) * DAY + between(60, 6 * 3600)
            event_type, payload = self.payload(kind, happening)
            recorded = self._after_opening(happening.org, event_type, payload, recorded)
            if recorded is None or recorded >= cut:
                continue
            self._opens(happening.org, event_type, payload, recorded)
            case = payload.get("case_id")
            corr = correlations.setdefault(case, self.uuid()) if case else self.uuid()
            if happening.org not in registered:
                registered.add(happening.org)
                self.stubs.append((recorded - 1, occurred, happening.org, person,
                                   "person.registered", {"birth_month": birth_month}, corr))
            self.stubs.append((recorded, occurred, happening.org, person, event_type, payload,
                               corr))

    def _after_opening(self, source: str, event_type: str, payload: dict, recorded: int
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

    def lag(self, kind: OrgKind) -> int:
        roll = self._random()
        for share, low, high in self.LAG_DAYS[kind]:
            if roll < share:
                return self.between(low, high)
            roll -= share
        return 0


def casebook(scale: Scale, seed: int, block: int, today: date) -> Recorder:
    """One block's stories recorded; the stubs are in story order, not yet in any log order."""
    book = Recorder(random.Random(f"send-exchange:{seed}:{block}"), cast_for(block, scale.blocks),
                    today)
    for story in block_stories(scale, seed, block, today):
        book.record(story)
    return book


# ---------------------------------------------------------------------------- the relays
RELAYS = {OrgKind.LA: ("nightly", "weekly", "live"), OrgKind.ICB: ("live", "hourly"),
          OrgKind.PROVIDER: ("nightly", "hourly")}
HOUR, DAY, WEEK = 3600, 86_400, 7 * 86_400


def relay_schedule(rng: random.Random, kind: OrgKind, stubs: list[Stub]) -> list[float]:
    """When each of one source's events (in log order) reaches the bus: monotone, with outages."""
    rhythm = rng.choice(RELAYS[kind])
    outages = []
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(stubs[0][0], stubs[-1][0]) if stubs else 0
        outages.append((start, start + rng.randint(2, 45 if kind == OrgKind.LA else 14) * DAY))
    out, last = [], 0.0
    for stub in stubs:
        t = stub[0]
        if rhythm == "live":
            t += 1 + int(rng.random() * 20)
        elif rhythm == "hourly":
            t = t // HOUR * HOUR + HOUR + 60
        elif rhythm == "nightly":
            t = t // DAY * DAY + DAY + 2 * HOUR
        else:  # weekly, Sunday 03:00 (1970-01-01 was a Thursday)
            t = (t + 4 * DAY) // WEEK * WEEK + WEEK - 4 * DAY + 3 * HOUR
        for start, end in outages:
            if start <= t < end:
                t = end
        last = max(float(t), last + 0.001)
        out.append(last)
    return out


def delivery_order(book: Recorder, rng: random.Random) -> Iterator[tuple[int, Stub]]:
    """Each source's log (sorted by recorded time) delivered by its relay, merged into bus order."""
    by_source: dict[str, list[Stub]] = {code: [] for code in book.cast.codes}
    for stub in book.stubs:
        by_source[stub[2]].append(stub)
    book.stubs = []
    arrivals: list[tuple[float, int, int]] = []  # (delivered, lane, position)
    lanes = []
    for lane, (code, stubs) in enumerate(by_source.items()):
        stubs.sort(key=lambda s: s[0])  # stable: ties keep story order
        times = relay_schedule(rng, kind_of(book.cast, code), stubs)
        arrivals.extend(zip(times, [lane] * len(stubs), range(1, len(stubs) + 1), strict=True))
        lanes.append(stubs)
    by_source.clear()
    arrivals.sort()
    for _, lane, position in arrivals:
        yield position, lanes[lane][position - 1]


# ---------------------------------------------------------------------------- the wire
def generate_wire(scale: str, seed: int, today: date | None = None) -> Iterator[WireEvent]:
    """The fast path: encoded events in delivery order, `msg_id` = event id (Nats-Msg-Id)."""
    for _, subject, event_id, data in _events(scale, seed, today):
        yield WireEvent(subject, event_id, data)


def generate(scale: str, seed: int, today: date | None = None) -> Iterator[Envelope]:
    """The validated path: each event built from its payload model; bytes checked identical."""
    for wire, subject, _, data in _events(scale, seed, today):
        payload = model_for(wire["type"], wire["schema_version"]).model_validate(wire["payload"])
        header = {k: v for k, v in wire.items() if k not in ("type", "schema_version", "payload")}
        envelope = Envelope.wrap(payload, **header)
        if encode(envelope) != data:
            raise AssertionError(f"fast-path bytes differ from contracts.encode for {subject}")
        yield envelope


def _events(scale_name: str, seed: int, today: date | None = None
            ) -> Iterator[tuple[dict, str, str, bytes]]:
    if scale_name not in SCALES:
        raise ValueError(f"unknown scale {scale_name!r}: one of {', '.join(SCALES)}")
    scale, cut = SCALES[scale_name], story_today(today)
    versions: dict[str, int] = {}
    for block in range(scale.blocks):
        book = casebook(scale, seed, block, cut)
        rng = random.Random(f"send-exchange:{seed}:{block}:relay")
        may = {code: PUBLISHES[kind_of(book.cast, code)] for code in book.cast.codes}
        prev_hash: dict[str, str | None] = dict.fromkeys(book.cast.codes)
        for position, (recorded, occurred, source, person, event_type, payload, corr) in (
            delivery_order(book, rng)
        ):
            if event_type not in may[source]:
                raise AssertionError(f"{source} may not publish {event_type}")
            version = versions.get(event_type) or versions.setdefault(
                event_type, current_version(event_type))
            event_id = book.uuid()
            wire = {"event_id": event_id, "type": event_type, "schema_version": version,
                    "source_org": source, "person_key": person, "occurred_at": iso(occurred),
                    "recorded_at": iso(recorded), "correlation_id": corr,
                    "causation_id": None, "source_position": position,
                    "prev_hash": prev_hash[source], "payload": payload}
            # orjson's bytes keep a ~4 KiB buffer; a compact copy makes held lists 7x smaller.
            data = bytes(memoryview(orjson.dumps(wire)))
            prev_hash[source] = bytes_hash(data)
            yield wire, event_subject(source, event_type, person), event_id, data


def event_mix(scale: str, seed: int) -> Counter[str]:
    return Counter(wire["type"] for wire, *_ in _events(scale, seed))

