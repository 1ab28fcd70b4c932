"""A deterministic synthetic SEND population, streamed as contract events in bus delivery order:
the population the benchmarks (`bench/`) and the stream-reading tests publish, sized by a scale
and seeded; the demo's import extracts (`sendx.demo.children`) describe the same partnership
(`LLR` is the demo's organisations) at the scale a person can read.

    generate(scale, seed)       -> Iterator[Envelope]   validated payload models (for checks)
    generate_wire(scale, seed)  -> Iterator[WireEvent]  (subject, msg_id, bytes): for publishers

Both yield the same events; the wire bytes equal `contracts.encode` of the validated envelope
(`generate` checks this for every event). Same scale and seed, same bytes: all randomness comes
from `random.Random` instances seeded from (seed, partnership index); no global state.

**Shape.** A scale is a number of partnerships ("blocks"), each a cast of organisations: three
LAs, an ICB, a community trust, three schools, a college and two AP providers. A block's
children (`sendx.demo.population.stories`) live their stories between 2019-01-01 and the data
cut 2026-11-01; each event is recorded by its source after a lag (LA: same week mostly, 19% up
to 6 weeks, 3% a backlog of months; ICB/trust: days, sometimes weeks; providers: up to 2
months), never before the same source recorded the case, plan, referral, placement or
timetable the event acts on (its service refuses it before: `runtime.ownership.REFERS`; an act
on one that was never recorded in the window is not recorded either). Each source's log is its
events in recorded order: `source_position` 1, 2, 3... and
`prev_hash` = SHA-256 hex of the previous event's encoded bytes (`contracts.chain.bytes_hash`).
Each source's relay then delivers its log in order on its own rhythm (live, hourly, nightly or
weekly batches, plus outages of days to weeks), and the bus order is the merge of those
deliveries. So within a source delivery follows `source_position`, while across organisations
events arrive out of order: an ICB's advice or plan flag often lands before the LA's request or
plan. Memory is bounded by one block (about 20,000 plans), so the national scale streams 42
blocks one after another in constant memory (~300 MB peak).

**Scales.** `tiny` (150 plans, ~3k events) and `small` (1,500 plans, ~32k events) for tests;
`partnership` = Leicester, Leicestershire and Rutland (856/855/857, ICB QK1, trust RT5): ~20,000
children with plans issued plus refused, not-issued, health-only and AP-only children;
`national` = 42 partnerships x 16,400 plan stories (~640,000 plans, ~15 million events:
seven years of history at ~22 events per child with a plan).

**Event mix at partnership scale, seed 1** (run `python -m sendx.demo.population partnership 1`):

    adult_social_care.transition_assessment_completed          881
    ap.placement_commissioned                                1,666
    ap.placement_ended                                       1,706
    ap.placement_started                                     1,860
    ehc.advice_requested                                    51,849
    ehc.advice_returned                                     22,186
    ehc.annual_review_held                                  50,081
    ehc.assessment_decided                                  28,862
    ehc.assessment_requested                                29,338
    ehc.plan_amended                                        24,337
    ehc.plan_ceased                                          5,018
    ehc.plan_issued                                         19,884
    ehc.plan_not_issued                                      1,435
    ehc.review_outcome                                      49,132
    health.adult_services_referral_accepted                    370
    health.annual_health_check_completed                     2,002
    health.assessment_started                               21,923
    health.care_summary_updated                              3,037
    health.diagnosis_recorded                               14,678
    health.dsr_status_changed                                1,470
    health.ehc_plan_flag_cleared                             2,806
    health.ehc_plan_flag_set                                16,940
    health.referral_made                                    24,341
    health.transferred_to_adult_services                       282
    person.registered                                       79,467
    provider.part_time_timetable_ended                         700
    provider.part_time_timetable_started                       847
    provider.post16_destination_confirmed                    1,482
    transition.named_worker_assigned                         5,348
    transition.plan_agreed                                   4,082
    total                                                  468,127

    by source: LA 855 156,547 / 856 119,849 / 857 24,132; trust RT5 89,435; ICB QK1 67,777;
    AP providers 6,021; schools and college 4,366. 49% of plans without an exception are issued
    within 20 weeks; 756 record an exception; ~15,000 plans are active at the cut; health flags
    miss ~12% of plans, 30% of ceased plans keep their flag, 3% name the wrong LA.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from contracts import Envelope, current_version, encode, model_for
from contracts.chain import bytes_hash
from contracts.subjects import event_subject
from contracts.topology import PUBLISHES, OrgKind
from sendx.demo.children import DEMO_AP_PROVIDER, DEMO_ICB, DEMO_LAS, DEMO_SCHOOL, DEMO_TRUST
from sendx.demo.population.calendar import iso
from sendx.demo.population.stories import Casebook, Cast, Stub


class WireEvent(NamedTuple):
    subject: str
    msg_id: str
    data: bytes


@dataclass(frozen=True)
class Scale:
    blocks: int
    plans_per_block: int
    """Children whose request leads to a plan (about 7% are still being assessed at the cut)."""

    @property
    def plans(self) -> int:
        return self.blocks * self.plans_per_block


SCALES: dict[str, Scale] = {
    "tiny": Scale(1, 150),
    "small": Scale(1, 1_500),
    "partnership": Scale(1, 21_500),  # ~20,000 plans issued by the data cut
    "national": Scale(42, 16_400),  # ~640,000 plans issued
}
# Other children per child with a plan (England 2024: ~154k requests, 98k new plans).
OTHER_CHILDREN = (("refused_child", 0.30), ("not_issued_child", 0.07),
                  ("health_only_child", 0.35), ("ap_only_child", 0.04))

LLR = Cast(las=tuple(DEMO_LAS), la_weights=(40, 52, 8), icb=DEMO_ICB, trust=DEMO_TRUST,
           schools=(DEMO_SCHOOL, "120002", "120003"), colleges=("130001",),
           ap_providers=(DEMO_AP_PROVIDER, "AP002"))
"""The demo partnership's organisations (`sendx.demo.children`), with more schools and an AP
provider more, as a partnership of ~20,000 plans has."""


def cast_for(block: int, blocks: int) -> Cast:
    """LLR for a one-partnership scale; otherwise made-up codes unique to each block."""
    if blocks == 1:
        return LLR
    return Cast(las=tuple(str(300 + 4 * block + i) for i in range(3)), la_weights=(40, 52, 8),
                icb=f"Q{block:02d}", trust=f"R{block:02d}",
                schools=tuple(f"1{block:02d}00{i}" for i in range(1, 4)),
                colleges=(f"1{block:02d}101",), ap_providers=(f"AP{block:02d}1", f"AP{block:02d}2"))


def kind_of(cast: Cast, code: str) -> OrgKind:
    if code in cast.las:
        return OrgKind.LA
    return OrgKind.ICB if code in (cast.icb, cast.trust) else OrgKind.PROVIDER


# ---------------------------------------------------------------------------- the world
def casebook(scale: Scale, seed: int, block: int) -> Casebook:
    """Simulate one block's children; the stubs are in story order, not yet in any log order."""
    rng = random.Random(f"send-exchange:{seed}:{block}")
    book = Casebook(rng, cast_for(block, scale.blocks))
    n = scale.plans_per_block
    stories = [("plan_child", n)] + [(name, round(n * share)) for name, share in OTHER_CHILDREN]
    for name, count in stories:
        tell = getattr(book, name)
        for _ in range(count):
            tell()
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


def delivery_order(book: Casebook, rng: random.Random) -> Iterator[tuple[int, Stub]]:
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
def generate_wire(scale: str, seed: int) -> Iterator[WireEvent]:
    """The fast path: encoded events in delivery order, `msg_id` = event id (Nats-Msg-Id)."""
    for _, subject, event_id, data in _events(scale, seed):
        yield WireEvent(subject, event_id, data)


def generate(scale: str, seed: int) -> Iterator[Envelope]:
    """The validated path: each event built from its payload model; bytes checked identical."""
    for wire, subject, _, data in _events(scale, seed):
        payload = model_for(wire["type"], wire["schema_version"]).model_validate(wire["payload"])
        header = {k: v for k, v in wire.items() if k not in ("type", "schema_version", "payload")}
        envelope = Envelope.wrap(payload, **header)
        if encode(envelope) != data:
            raise AssertionError(f"fast-path bytes differ from contracts.encode for {subject}")
        yield envelope


def _events(scale_name: str, seed: int) -> Iterator[tuple[dict, str, str, bytes]]:
    scale = SCALES[scale_name]
    versions: dict[str, int] = {}
    for block in range(scale.blocks):
        book = casebook(scale, seed, block)
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
                    "recorded_at": iso(recorded), "correlation_id": corr or event_id,
                    "causation_id": None, "source_position": position,
                    "prev_hash": prev_hash[source], "payload": payload}
            # orjson's bytes keep a ~4 KiB buffer; a compact copy makes held lists 7x smaller.
            data = bytes(memoryview(orjson.dumps(wire)))
            prev_hash[source] = bytes_hash(data)
            yield wire, event_subject(source, event_type, person), event_id, data


def event_mix(scale: str, seed: int) -> Counter[str]:
    return Counter(wire["type"] for wire, *_ in _events(scale, seed))

