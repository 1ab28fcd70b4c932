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
  120001").

- it acts on a plan its source never issued for that person (`unissued_plan_refusal`): an
  annual review, review outcome, amendment or cessation quoting a `plan_id` for which no
  `ehc.plan_issued` of the same source about the same person came earlier on the stream. An
  LA's own service cannot record one (its domain requires the plan), and its relay publishes in
  the order it recorded, so only an event published around the relay meets this rule. Readers
  judge it in stream order: the projections against the person's stored history
  (`projections.reading.applying`), the chain audit as it walks the stream.

Plans, cases, referrals, placements and timetables are keyed by the publishing organisation
and its own reference in every read model (`projections.dataset.fold`), so an LA that ceases,
reviews or amends "plan 856-P-1" only ever touches a plan of its own of that name: another
LA's plan cannot be reached by construction. A source the partnership does not list is not
judged by kind (the generated NATS permissions give no such organisation a login; only the
`retrier` or a server administrator could have published it).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
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
        source = self._orgs.get(source_org)
        if source is not None and not source.may_publish(event_type) and _in_topology(event_type):
            return (
                f"{event_type} from {source_org}: a {source.kind.value} may not publish it "
                f"(contracts.topology.PUBLISHES[{source.kind.name}]; kinds that may: "
                f"{_kinds_publishing(event_type)})"
            )
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


PLAN_ISSUED = "ehc.plan_issued"
PLAN_REFERENCES = frozenset(
    {"ehc.annual_review_held", "ehc.review_outcome", "ehc.plan_amended", "ehc.plan_ceased"}
)
"""Event types that act on a plan the same source issued before, named by `payload.plan_id`."""

IssuedPlan = tuple[str, str, str]
"""(person key, issuing organisation, plan id)."""


def unissued_plan_refusal(
    event_type: str, source_org: str, person_key: str, plan_id: object,
    issued: Container[IssuedPlan],
) -> str | None:
    """Why an event acting on a plan is refused, given the plans `issued` before it, or None."""
    if event_type not in PLAN_REFERENCES or not isinstance(plan_id, str):
        return None
    if (person_key, source_org, plan_id) in issued:
        return None
    return (
        f"{event_type} from {source_org}: plan {plan_id} was never issued by {source_org} for "
        f"this person (no earlier {PLAN_ISSUED} of theirs on the stream)"
    )


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
