"""Property: over random agreements and histories, each recipient's deliveries (the cohort fold
in the feed store, fed in random batches, with restarts of the store in between) are exactly
the agreement applied by hand, event by event over the whole history. Fed as the runner feeds
it too (encoded bytes through `decode_and_apply`), where the events no rule needs are skipped
undecoded (`FeedStore.needs_subject`): skipping them must change no delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import Envelope, encode
from contracts.agreements import Agreement, Clause, Cohort
from contracts.person import PersonErased
from contracts.subjects import event_subject
from projections.feeds.cohort import Changes, CohortState, apply
from projections.feeds.store import FeedStore
from projections.reading.applying import decode_and_apply
from projections.reading.batch import RawEvent
from projections.reading.projection import StreamEvent
from runtime.ownership import RESPONSIBLE_LA_FIELDS
from runtime.partnership import DEMO_PARTNERSHIP
from tests.projections.conftest import EventFactory

PEOPLE = ("ann", "bob", "cat")
ON = date(2026, 3, 1)
TYPES = ("ehc.plan_issued", "ehc.plan_ceased", "ehc.assessment_requested",
         "health.diagnosis_recorded", "health.ehc_plan_flag_set", "person.erased")


def make(factory: EventFactory, kind: str, person: str, org: str, la: str) -> Envelope:
    """One event of `kind` by `org` (an LA's or a health body's, as the kind requires)."""
    if kind == "plan_issued":
        return factory.plan_issued(person, ON, la=org)
    if kind == "plan_ceased":
        return factory.plan_ceased(person, ON, la=org)
    if kind == "assessment_requested":
        return factory.assessment_requested(person, ON, la=org)
    if kind == "diagnosis":
        return factory.diagnosis(person, ON, by=org)
    if kind == "flag":
        return factory.health_flag_set(person, ON, la=la, by=org)
    return factory.wrap(PersonErased(erased_on=ON, reason="data_subject_request"), person, org, ON)


LA_KINDS = ("plan_issued", "plan_ceased", "assessment_requested", "erased")
HEALTH_KINDS = ("diagnosis", "flag", "erased")
LAS = ("856", "855")
HEALTH = ("QK1", "RT5")

events = st.one_of(
    st.tuples(st.sampled_from(LA_KINDS), st.sampled_from(PEOPLE), st.sampled_from(LAS),
              st.just("856")),
    st.tuples(st.sampled_from(HEALTH_KINDS), st.sampled_from(PEOPLE), st.sampled_from(HEALTH),
              st.sampled_from(LAS)),
)


@st.composite
def clauses(draw: st.DrawFn, index: int) -> Clause:
    recipient = draw(st.sampled_from((*LAS, *HEALTH)))
    cohort = draw(st.sampled_from(list(Cohort)))
    own = "la" if recipient in LAS else "icb"
    caseload = {}
    if cohort is Cohort.CASELOAD:
        mine = ["ehc.assessment_requested", "ehc.plan_issued"] if own == "la" else [
            "health.diagnosis_recorded", "health.ehc_plan_flag_set"]
        caseload = {"caseload_from": [draw(st.sampled_from(mine))],
                    "caseload_until": draw(st.lists(st.sampled_from(mine), max_size=1))}
    return Clause(
        id=f"c{index}", recipient=recipient,
        sources=draw(st.lists(st.sampled_from(("la", "icb", *LAS, *HEALTH)), min_size=1,
                              max_size=3, unique=True)),
        events=draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True)),
        cohort=cohort, include_earlier=draw(st.booleans()), purpose="a purpose of the test",
        lawful_basis=["UK GDPR Art. 6(1)(e)", "UK GDPR Art. 9(2)(h)"], retention="1 year",
        **caseload,
    )


@st.composite
def agreements(draw: st.DrawFn) -> Agreement:
    count = draw(st.integers(1, 4))
    return Agreement(id="test", title="random", clause=[draw(clauses(i)) for i in range(count)])


def sources_of(clause: Clause) -> set[str]:
    return {o.code for o in DEMO_PARTNERSHIP
            if (o.kind.value in clause.sources or o.code in clause.sources)
            and o.code != clause.recipient}


def rule(clause: Clause, event: Envelope) -> bool | None:
    """Written out again from the agreement's words, not from the fold."""
    mine = event.source_org == clause.recipient
    if mine and event.type == "person.erased":
        return False
    if clause.cohort == Cohort.MENTIONED:
        return True if mine else None
    if clause.cohort == Cohort.CASELOAD:
        if mine and event.type in clause.caseload_from:
            return True
        if mine and event.type in clause.caseload_until:
            return False
        return None
    if clause.cohort == Cohort.LA_AREA:
        field = RESPONSIBLE_LA_FIELDS.get(event.type)
        return True if field and getattr(event.payload, field) == clause.recipient else None
    return None


def member_after(clause: Clause, history: list[Envelope], k: int, person: str) -> bool:
    if clause.cohort == Cohort.EVERYONE:
        return True
    status = False
    for event in history[: k + 1]:
        if event.person_key == person and (verdict := rule(clause, event)) is not None:
            status = verdict
    return status


def by_hand(agreement: Agreement, history: list[Envelope]) -> dict[tuple[str, str], set[str]]:
    """(recipient, event id) -> the clauses entitling the recipient to it."""
    entitled: dict[tuple[str, str], set[str]] = {}
    for clause in agreement.clause:
        sources = sources_of(clause)
        for j, event in enumerate(history):
            if event.source_org not in sources or event.type not in clause.events:
                continue
            later = range(j, len(history)) if clause.include_earlier else (j,)
            if any(member_after(clause, history, k, event.person_key) for k in later):
                entitled.setdefault((clause.recipient, str(event.event_id)), set()).add(clause.id)
    return entitled


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agreement=agreements(), drawn=st.lists(events, max_size=25),
       cuts=st.lists(st.integers(0, 25), max_size=4), reopen=st.booleans(),
       as_runner=st.booleans())
def test_each_feed_is_the_agreement_applied_by_hand(
    tmp_path_factory, agreement: Agreement, drawn: list, cuts: list[int], reopen: bool,
    as_runner: bool,
) -> None:
    factory = EventFactory()
    history = [make(factory, *spec) for spec in drawn]
    path: Path = tmp_path_factory.mktemp("feed") / "feeds.sqlite"
    store = FeedStore(path)
    store.adopt(agreement, stream_last_seq=0)
    stream = [StreamEvent(seq, e) for seq, e in enumerate(history, start=1)]
    raws = [RawEvent(seq, event_subject(e.source_org, e.type, e.person_key), encode(e))
            for seq, e in stream]
    bounds = sorted({0, len(stream), *(c for c in cuts if c <= len(stream))})
    for start, stop in zip(bounds, bounds[1:], strict=False):
        for first in (start, max(0, start - 2)):  # a redelivered batch changes nothing
            if as_runner:
                decode_and_apply(store, raws[first:stop], after=store.position())
                assert store.position() == stop
            else:
                store.apply_batch(stream[first:stop])
        if reopen:
            store.close()
            store = FeedStore(path)
            store.adopt(agreement, stream_last_seq=len(stream))  # same agreement: no new epoch
    got = {(d.recipient, d.event_id): d.clause_id for d in store.deliveries()}
    store.close()
    expected = by_hand(agreement, history)
    assert set(got) == set(expected)
    assert all(got[key] in expected[key] for key in got)


@settings(max_examples=300, deadline=None)
@given(agreement=agreements(), drawn=st.lists(events, max_size=25))
def test_an_event_the_fold_is_said_not_to_need_changes_nothing(
    agreement: Agreement, drawn: list
) -> None:
    """What `Needed` lets the runner skip undecoded would have made no delivery, hold or
    membership change at that point of any history."""
    factory = EventFactory()
    state = CohortState.of(agreement, DEMO_PARTNERSHIP)
    for seq, event in enumerate((make(factory, *spec) for spec in drawn), start=1):
        before = ({c: set(m) for c, m in state.members.items()},
                  {c: {p: list(h) for p, h in held.items() if h} for c, held in state.held.items()})
        changes = apply(state, seq, event)
        if not state.needs(event.source_org, event.type):
            assert changes == Changes(), (event.source_org, event.type)
            assert before == ({c: set(m) for c, m in state.members.items()},
                              {c: {p: list(h) for p, h in held.items() if h}
                               for c, held in state.held.items()})
