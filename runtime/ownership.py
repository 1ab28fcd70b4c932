"""Which claims an organisation may make on the bus: the rule every reader applies. Pure.

Why readers check too: NATS permissions stop an organisation publishing under another's
prefix, but under its own prefix a service login can publish any well-formed event. The relay
refuses to publish what its kind may not (`services.sharing.relay.check_topology`), yet a partner
that publishes with its login by other means bypasses its relay. So the projections (through
`projections.reading.batch.decode_batch`), the dead-letter retry and `sendx audit chain` all apply
this one rule, and an event it refuses is dead-lettered with the reason, never applied.

An event is refused when:
- its source's kind may not publish its type (`contracts.topology.PUBLISHES`): a school's
  `ehc.plan_issued`, an NHS trust's `ehc.plan_ceased`;
- it attributes to an organisation what only an LA can be: a payload field naming the LA
  responsible (`la_code` of a health plan flag, `requesting_la`, `commissioned_by`) that names
  an organisation of the partnership that is not an LA (a health flag "plan maintained by
  120001");
- it acts on something its source never opened for that person (`OpenedReferences`, one table
  `REFERS`): a decision, advice request, plan or disagreement naming a `case_id` for which the
  same LA recorded no request for assessment (or assessment at its step, or plan in force, at
  go-live); a review, outcome,
  amendment or cessation naming a `plan_id` it never issued (or recorded in force at go-live);
  an assessment start, closure or diagnosis naming a `referral_id` of its own that the same
  trust or ICB never received (a referral open at go-live, `migrated_from`, is received); a
  placement or timetable end naming one the same provider never started (one running at
  go-live included). Each is a rule the source's own service enforces before storing the
  event, and its relay publishes in the order it stored, so only an event published around the
  relay meets this rule. Readers judge it in stream order: the projections against the
  person's stored history (`projections.reading.applying`) and earlier in the batch, the chain
  audit as it walks the stream, the dead-letter retry against the person's events on it now.
  Not judged: the `case_id` of an `ehc.plan_issued` (the read models count a plan whose request
  is not on the stream apart, "no request recorded", rather than refuse it) and of an
  `ehc.advice_returned` (the case is the requesting LA's, not its source's).

Plans, cases, referrals, placements and timetables are keyed by the publishing organisation
and its own reference in every read model (`projections.dataset.fold`), so an LA that ceases,
reviews or amends "plan 856-P-1" only ever touches a plan of its own of that name: another
LA's plan cannot be reached by construction. A source the partnership does not list is not
judged by kind (the generated NATS permissions give no such organisation a login; only the
`retrier` or a server administrator could have published it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Envelope
from contracts.topology import PUBLISHES, Organisation, OrgKind
from runtime.partnership import DEMO_PARTNERSHIP

RESPONSIBLE_LA_FIELDS: Mapping[str, str] = {
    "health.ehc_plan_flag_set": "la_code",
    "health.ehc_plan_flag_cleared": "la_code",
    "ehc.advice_returned": "requesting_la",
    "ap.placement_started": "commissioned_by",
}
"""Event type -> the payload field that names the LA responsible for what the event records."""


class OwnershipRule:
    """The rule for one partnership: `refusal(envelope)` is None or why it is refused."""

    def __init__(self, partnership: Iterable[Organisation] = DEMO_PARTNERSHIP) -> None:
        self._orgs = {org.code: org for org in partnership}
        self._by_kind: dict[tuple[str, str], str | None] = {}
        """(source, type) -> the kind rule's refusal, worked out once per pair: every reader
        asks per event, and a partnership has few pairs."""

    def refusal(self, envelope: Envelope) -> str | None:
        payload = envelope.payload
        return self.claim_refusal(
            envelope.source_org, envelope.type, lambda name: getattr(payload, name, None)
        )

    def claim_refusal(
        self, source_org: str, event_type: str, payload_field: Callable[[str], Any]
    ) -> str | None:
        """`refusal` from the parts it reads, so a reader that has not validated the body (the
        chain audit) applies the same rule: `payload_field(name)` is the field's value."""
        pair = (source_org, event_type)
        if pair in self._by_kind:
            refused = self._by_kind[pair]
        else:
            refused = self._kind_refusal(source_org, event_type)
            if source_org in self._orgs:  # bounded: the partnership's organisations only
                self._by_kind[pair] = refused
        if refused is not None:
            return refused
        field = RESPONSIBLE_LA_FIELDS.get(event_type)
        named = payload_field(field) if field else None
        if not isinstance(named, str):
            return None
        org = self._orgs.get(named)
        if org is not None and org.kind is not OrgKind.LA:
            return (
                f"{event_type} from {source_org}: payload.{field} {named} names a "
                f"{org.kind.value}, not a local authority"
            )
        return None

    def _kind_refusal(self, source_org: str, event_type: str) -> str | None:
        source = self._orgs.get(source_org)
        if source is not None and not source.may_publish(event_type) and _in_topology(event_type):
            return (
                f"{event_type} from {source_org}: a {source.kind.value} may not publish it "
                f"(contracts.topology.PUBLISHES[{source.kind.name}]; kinds that may: "
                f"{_kinds_publishing(event_type)})"
            )
        return None


@dataclass(frozen=True)
class Reference:
    """Something an organisation opens for a person and later events of its own act on: a case,
    a plan, a referral, a placement, a timetable."""

    thing: str
    field: str
    """The payload field that names it, in the opening event and in every later one."""
    opened: str
    """What opening it is called, for the reason a refusal gives: "issued", "received"."""
    held_by: str | None = None
    """A payload field naming another organisation that holds it (`referral_org`): when that
    names someone other than the source, the reference is that organisation's, not judged."""

    def named_by(self, source_org: str, payload_field: Callable[[str], Any]) -> str | None:
        """The reference the event names that is its source's own, or None."""
        value = payload_field(self.field)
        holder = payload_field(self.held_by) if self.held_by else None
        if not isinstance(value, str) or holder not in (None, source_org):
            return None
        return value


CASE = Reference("case", "case_id", "opened")
PLAN = Reference("plan", "plan_id", "issued")
REFERRAL = Reference("referral", "referral_id", "received")
PLACEMENT = Reference("placement", "placement_id", "started")
TIMETABLE = Reference("timetable", "timetable_id", "started")
ANSWERED_REFERRAL = Reference("referral", "referral_id", "received", held_by="referral_org")
"""A diagnosis answers a referral of its source's own unless `referral_org` names another."""

OPENS: Mapping[str, tuple[Reference, ...]] = {
    "ehc.assessment_requested": (CASE,),
    "ehc.plan_issued": (PLAN,),
    "ehc.plan_in_force_recorded": (CASE, PLAN),  # go-live: the case begins with its plan
    "ehc.assessment_step_recorded": (CASE,),  # go-live: the case begins at its step
    "health.referral_made": (REFERRAL,),  # live, or open at go-live (`migrated_from`)
    "ap.placement_started": (PLACEMENT,),  # live, or running at go-live (`migrated_from`)
    "provider.part_time_timetable_started": (TIMETABLE,),
}
"""Event type -> what it opens for the person, under its source and the named reference."""

REFERS: Mapping[str, tuple[Reference, ...]] = {
    **dict.fromkeys((
        "ehc.assessment_decided", "ehc.advice_requested", "ehc.plan_not_issued",
        "disagreement.mediation_advice_sought", "disagreement.mediation_held",
        "disagreement.appeal_registered", "disagreement.appeal_decided",
    ), (CASE,)),
    **dict.fromkeys((
        "ehc.annual_review_held", "ehc.review_outcome", "ehc.plan_amended", "ehc.plan_ceased",
    ), (PLAN,)),
    "health.assessment_started": (REFERRAL,),
    "health.referral_closed": (REFERRAL,),
    "health.diagnosis_recorded": (ANSWERED_REFERRAL,),
    "ap.placement_ended": (PLACEMENT,),
    "provider.part_time_timetable_ended": (TIMETABLE,),
}
"""Event type -> what it acts on, which its source must have opened for the same person earlier
on the stream. Each row is a rule the source's own service enforces before it stores the event
(`services/la/application.py`, `services/icb/application.py`, `services/provider/application.py`),
so only an event published around the relay breaks it."""

_JUDGED = frozenset(REFERS) | frozenset(OPENS)

Opened = tuple[str, str, str, str]
"""(thing, person key, organisation that opened it, its reference)."""


def _openers(thing: str) -> str:
    return " or ".join(t for t, refs in OPENS.items() if any(r.thing == thing for r in refs))


class OpenedReferences:
    """What has been opened so far on the stream, judged in stream order: `judge` says why an
    event acting on something its source never opened for that person is refused, and records
    what an event it does not refuse opens. The projections start from a person's stored
    history (`projections.reading.applying`) or nothing (`folding`), the chain audit from the
    start of the stream, the dead-letter retry from the person's events on it."""

    def __init__(self, opened: Iterable[Opened] = ()) -> None:
        self.opened: set[Opened] = set(opened)

    def judge(
        self, event_type: str, source_org: str, person_key: str,
        payload_field: Callable[[str], Any],
    ) -> str | None:
        """None (and what the event opens is recorded) or why it is refused."""
        for ref in REFERS.get(event_type, ()):
            value = ref.named_by(source_org, payload_field)
            if value is not None and (ref.thing, person_key, source_org, value) not in self.opened:
                return (
                    f"{event_type} from {source_org}: payload.{ref.field} {value} names a "
                    f"{ref.thing} {source_org} never {ref.opened} for this person (no earlier "
                    f"{_openers(ref.thing)} of {source_org}'s about them on the stream)"
                )
        self.record(event_type, source_org, person_key, payload_field)
        return None

    def judge_envelope(self, envelope: Envelope) -> str | None:
        if envelope.type not in _JUDGED:
            return None  # neither acts on nor opens anything: most events
        payload = envelope.payload
        return self.judge(envelope.type, envelope.source_org, envelope.person_key,
                          lambda name: getattr(payload, name, None))

    def record(
        self, event_type: str, source_org: str, person_key: str,
        payload_field: Callable[[str], Any],
    ) -> None:
        """Record what an event already judged (a stored one) opens."""
        for ref in OPENS.get(event_type, ()):
            value = payload_field(ref.field)
            if isinstance(value, str):
                self.opened.add((ref.thing, person_key, source_org, value))


def _in_topology(event_type: str) -> bool:
    """A type the topology names (a type added to the contracts but not yet to the topology is
    judged when the topology names it)."""
    return any(event_type in types for types in PUBLISHES.values())


def _kinds_publishing(event_type: str) -> str:
    kinds = [kind.value for kind, types in PUBLISHES.items() if event_type in types]
    return ", ".join(kinds) or "none"


PARTNERSHIP_RULE = OwnershipRule()
"""The rule for the partnership this deployment serves (`runtime.partnership.DEMO_PARTNERSHIP`,
from which the NATS permissions are rendered too)."""


def refusal(envelope: Envelope) -> str | None:
    """Why the partnership refuses this event, or None: `PARTNERSHIP_RULE.refusal`."""
    return PARTNERSHIP_RULE.refusal(envelope)
