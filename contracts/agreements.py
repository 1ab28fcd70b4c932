"""Data-sharing agreements as code: who receives which events, about whom, why, for how long.

One declarative TOML file per partnership (`deploy/sharing/agreements.toml`), validated by the
models here. Each clause entitles one recipient organisation to some event types from some
sources, about a cohort of people, for a purpose, under a lawful basis, with a retention:

    [[clause]]
    id = "icb-plans"
    recipient = "QK1"
    sources = ["la"]                      # organisation kinds or codes
    events = ["ehc.plan_issued", "ehc.plan_ceased"]
    cohort = "mentioned"                  # mentioned | caseload | la_area | everyone
    purpose = "..."
    lawful_basis = ["UK GDPR Art. 6(1)(e)", "UK GDPR Art. 9(2)(h)", "..."]
    retention = "8 years after the plan ceases"

Cohorts (evaluated in stream order by `projections.feeds.cohort`; a person joins a cohort with
the event that puts them there and is never entitled to what came before it):
- `mentioned`: people the recipient's own events mention;
- `caseload`: people the recipient put on its caseload by one of `caseload_from` (its own events)
  and not since taken off by one of `caseload_until`;
- `la_area`: people an event names the recipient LA as responsible for (`la_code`,
  `requesting_la`, `commissioned_by`), whoever published it;
- `everyone`.
With `include_earlier`, a person joining the cohort brings the clause's earlier events about them
(since the clause took effect). Nothing before the point an agreement took effect is delivered
without a recorded backfill decision (`projections.feeds.store`).
A recipient never receives its own events back, and a recipient that erases a person
(`person.erased`) leaves every cohort of that person.

`open_fields` names the sealed personal fields (`Payload.personal_fields`, e.g. the `condition`
of a diagnosis) the recipient may read: the feed process opens them with the source's key and
seals them again under a key of the recipient's own for that person and source
(`contracts.sealing.seal_feed_value`). A clause without it delivers them still sealed, which no
partner can open.

Pure: parsing a text, validating, checking against the topology and explaining in plain words.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.envelope import ORG_CODE_PATTERN
from contracts.registry import all_events
from contracts.topology import PUBLISHES, Organisation, OrgKind

ClauseId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
OrgCode = Annotated[str, Field(pattern=ORG_CODE_PATTERN)]
SPECIAL_CATEGORY = "9(2)"
"""A lawful basis naming an Article 9(2) condition of UK GDPR: needed for health data."""
HEALTH_FAMILY = "health."


class Cohort(StrEnum):
    MENTIONED = "mentioned"
    CASELOAD = "caseload"
    LA_AREA = "la_area"
    EVERYONE = "everyone"


COHORT_WORDS = {
    Cohort.MENTIONED: "about people its own events mention",
    Cohort.CASELOAD: "about people on its caseload",
    Cohort.LA_AREA: "about people an event names it as the responsible local authority for",
    Cohort.EVERYONE: "about everyone",
}


class AgreementError(ValueError):
    """The agreement file cannot be read or does not validate; the message names what."""


class Clause(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ClauseId
    recipient: OrgCode
    sources: tuple[str, ...] = Field(min_length=1)
    """Organisation kinds (`la`, `icb`, `provider`) or organisation codes."""
    events: tuple[str, ...] = Field(min_length=1)
    cohort: Cohort
    caseload_from: tuple[str, ...] = ()
    caseload_until: tuple[str, ...] = ()
    include_earlier: bool = False
    """When a person joins the cohort, also deliver this clause's events about them that came
    (since the clause took effect) while they were not in it: an ICB that first meets a child
    learns the plan the LA issued before."""
    open_fields: tuple[str, ...] = ()
    """Personal fields (sealed on the wire) the recipient may read: opened for it in the feed."""
    purpose: str = Field(min_length=10)
    lawful_basis: tuple[str, ...]
    retention: str = Field(min_length=3)

    @model_validator(mode="after")
    def _caseload_named(self) -> Clause:
        if self.cohort is Cohort.CASELOAD and not self.caseload_from:
            raise ValueError(f"clause {self.id}: cohort caseload needs caseload_from (the "
                             "recipient's own event types that put a person on it)")
        if self.cohort is not Cohort.CASELOAD and (self.caseload_from or self.caseload_until):
            raise ValueError(f"clause {self.id}: caseload_from/caseload_until only apply to "
                             "cohort caseload")
        return self

    def cohort_digest(self) -> str:
        """What the clause's cohort state depends on: unchanged digest, state kept."""
        fields = ("recipient", "cohort", "caseload_from", "caseload_until", "include_earlier",
                  "sources", "events")
        return _digest(self.model_dump(mode="json", include=set(fields)))


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ClauseId
    title: str
    clause: tuple[Clause, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Agreement:
        seen: set[str] = set()
        for clause in self.clause:
            if clause.id in seen:
                raise ValueError(f"clause id {clause.id!r} is used twice")
            seen.add(clause.id)
        return self

    @property
    def digest(self) -> str:
        """SHA-256 of the agreement's canonical JSON: recorded with the point it took effect."""
        return _digest(self.model_dump(mode="json"))

    def for_recipient(self, org: str) -> tuple[Clause, ...]:
        return tuple(c for c in self.clause if c.recipient == org)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.recipient for c in self.clause))


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def parse_agreement(text: str, source: str = "agreement") -> Agreement:
    """The agreement in `text` (TOML); `AgreementError` naming the file, field and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AgreementError(f"{source}: not valid TOML: {exc}") from None
    body = data.pop("agreement", None)
    if not isinstance(body, dict):
        raise AgreementError(f"{source}: needs an [agreement] table with id and title")
    try:
        return Agreement.model_validate({**body, **data})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise AgreementError(f"{source}: {problems}") from None


def source_orgs(clause: Clause, partnership: Iterable[Organisation]) -> tuple[Organisation, ...]:
    """The organisations a clause's `sources` name (kinds expanded), never the recipient."""
    return tuple(
        org for org in partnership
        if (org.kind.value in clause.sources or org.code in clause.sources)
        and org.code != clause.recipient
    )


def check(agreement: Agreement, partnership: Iterable[Organisation]) -> list[str]:
    """Every problem of `agreement` against the partnership and the topology (empty: valid).

    A source cannot share a type it does not publish; every purpose needs a lawful basis, and
    health data an Article 9(2) condition; recipients and sources must be in the partnership."""
    orgs = {org.code: org for org in partnership}
    problems: list[str] = []
    for clause in agreement.clause:
        where = f"clause {clause.id}"
        recipient = orgs.get(clause.recipient)
        if recipient is None:
            problems.append(f"{where}: recipient {clause.recipient} is not in the partnership")
        problems += [f"{where}: {p}" for p in (
            *_source_problems(clause, orgs),
            *_caseload_problems(clause, recipient),
            *_basis_problems(clause),
            *_open_field_problems(clause),
        )]
        if recipient is not None and not source_orgs(clause, orgs.values()):
            problems.append(f"{where}: its sources name no organisation but the recipient")
    return problems


def _source_problems(clause: Clause, orgs: dict[str, Organisation]) -> list[str]:
    """Sources that are not kinds or organisations, and types a source does not publish."""
    kinds = {k.value: k for k in OrgKind}
    known_types = {spec.type for spec in all_events()}
    problems = [
        f"source {source!r} is neither an organisation kind ({', '.join(kinds)}) nor an "
        "organisation of the partnership"
        for source in clause.sources if source not in kinds and source not in orgs
    ]
    for event_type in clause.events:
        if event_type not in known_types:
            problems.append(f"{event_type} is not an event type of the standard")
            continue
        for source in clause.sources:
            kind = kinds.get(source) or (orgs[source].kind if source in orgs else None)
            if kind is not None and event_type not in PUBLISHES[kind]:
                problems.append(f"source {source} ({kind.value}) does not publish {event_type}")
    return problems


def _caseload_problems(clause: Clause, recipient: Organisation | None) -> list[str]:
    """Caseload events the recipient does not publish; `la_area` for a recipient not an LA."""
    own_kind = recipient.kind if recipient else None
    problems = [
        f"the recipient {clause.recipient} ({own_kind.value}) does not publish {event_type}, "
        "so it cannot mark a caseload"
        for event_type in (*clause.caseload_from, *clause.caseload_until)
        if own_kind is not None and event_type not in PUBLISHES[own_kind]
    ]
    if clause.cohort is Cohort.LA_AREA and own_kind not in (None, OrgKind.LA):
        problems.append(f"cohort la_area is for a local authority, and {clause.recipient} is "
                        f"{own_kind.value if own_kind else '?'}")
    return problems


def personal_fields_of(event_types: Iterable[str]) -> dict[str, set[str]]:
    """Each personal field of any version of `event_types` -> the types that have it."""
    fields: dict[str, set[str]] = {}
    wanted = set(event_types)
    for spec in all_events():
        if spec.type in wanted:
            for name in spec.model.personal_fields:
                fields.setdefault(name, set()).add(spec.type)
    return fields


def _open_field_problems(clause: Clause) -> list[str]:
    """An opened field that is not a personal (sealed) field of any of the clause's types."""
    personal = personal_fields_of(clause.events)
    return [
        f"open_fields: {name} is not a personal field of {', '.join(clause.events)} "
        f"(their personal fields: {', '.join(sorted(personal)) or 'none'})"
        for name in clause.open_fields if name not in personal
    ]


def _basis_problems(clause: Clause) -> list[str]:
    """A purpose without a lawful basis; health events without an Article 9(2) condition."""
    if not [basis for basis in clause.lawful_basis if basis.strip()]:
        return [f"the purpose {clause.purpose!r} has no lawful basis"]
    if any(t.startswith(HEALTH_FAMILY) for t in clause.events) and not any(
        SPECIAL_CATEGORY in basis for basis in clause.lawful_basis
    ):
        return [f"health events are special category data: the lawful basis needs an Article "
                f"{SPECIAL_CATEGORY} condition"]
    return []


def _opened_words(clause: Clause) -> list[str]:
    """What the recipient may read of the personal fields its events carry sealed."""
    personal = sorted(personal_fields_of(clause.events))
    closed = [name for name in personal if name not in clause.open_fields]
    lines = []
    if clause.open_fields:
        lines.append(f"  it may read the personal field(s) {', '.join(clause.open_fields)}, "
                     "opened for it under a key of its own that is deleted when either side "
                     "erases the person;")
    if closed:
        lines.append(f"  sealed, and unreadable to it: {', '.join(closed)};")
    return lines


def explain(agreement: Agreement, org: str, partnership: Iterable[Organisation]) -> str:
    """What `org` receives under `agreement` and why, in plain words."""
    orgs = {o.code: o for o in partnership}
    if org not in orgs:
        raise LookupError(f"organisation {org!r} is not in the partnership "
                          f"(known: {', '.join(orgs)})")
    name = orgs[org].name
    clauses = agreement.for_recipient(org)
    if not clauses:
        return f"{org} ({name}) receives nothing under agreement {agreement.id}."
    lines = [f"{org} ({name}) receives, under agreement {agreement.id} ({agreement.title}):"]
    for clause in clauses:
        sources = ", ".join(f"{o.code} {o.name}" for o in source_orgs(clause, orgs.values()))
        cohort = COHORT_WORDS[clause.cohort]
        if clause.cohort is Cohort.CASELOAD:
            cohort += f" (from its own {', '.join(clause.caseload_from)}"
            cohort += (f" until its {', '.join(clause.caseload_until)})" if clause.caseload_until
                       else ")")
        lines += [
            f"- {', '.join(clause.events)}",
            f"  from {sources}",
            f"  {cohort}, "
            + ("and, when they join it, what came before about them since the clause took "
               "effect;" if clause.include_earlier
               else "from the moment they join it (never what came before);"),
            *_opened_words(clause),
            f"  for: {clause.purpose}",
            f"  lawful basis: {'; '.join(clause.lawful_basis)}",
            f"  kept: {clause.retention}",
            f"  (clause {clause.id}; feed subjects send.feed.{org}.>)",
        ]
    return "\n".join(lines)
