"""The one story generator: what happens to each synthetic child, when, and who records it.

`story_of(child, cast, today)` tells one child's story as `Happening`s, each an organisation of
the `cast` doing one thing on one day (a command's name and fields, the way a partner system
would send it). Three parts, each on the child's own random stream: the home LA's EHC process
and disagreement (`la`), the ICB's and the community trust's records (`health`), the school's
and the AP provider's (`provision`); health and provision read what the LA did from the story.
Nothing happens on or after `today`, so no renderer ever produces a date in the future. The
story is rendered twice: as import extracts for the demo (`sendx.demo.extracts`) and as contract
events for `bench/` and the stream tests (`sendx.demo.population`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from contracts.topology import OrgKind
from sendx.demo.children import (
    DEMO_AP_PROVIDER,
    DEMO_ICB,
    DEMO_LAS,
    DEMO_SCHOOL,
    DEMO_TRUST,
    Child,
)
from sendx.demo.stories import health, la, provision
from services.domain.command import Command
from services.icb.commands import ICB_COMMANDS
from services.la.commands import LA_COMMANDS
from services.provider.commands import PROVIDER_COMMANDS

COMMANDS: dict[OrgKind, tuple[type[Command], ...]] = {
    OrgKind.LA: LA_COMMANDS, OrgKind.ICB: ICB_COMMANDS, OrgKind.PROVIDER: PROVIDER_COMMANDS,
}
COMMAND_OF: dict[tuple[OrgKind, str], type[Command]] = {
    (kind, command.name): command for kind, commands in COMMANDS.items() for command in commands
}
"""What a happening may be: a command the organisation's kind of service accepts (by kind, as
the ICB's `transition.assign_named_worker` has a default worker role the LA's has not)."""


@dataclass(frozen=True)
class Cast:
    """The organisations of one partnership, and how its children are spread over the LAs."""

    las: tuple[str, ...]
    la_weights: tuple[float, ...]
    icb: str
    trust: str
    schools: tuple[str, ...]
    ap_providers: tuple[str, ...]

    @property
    def providers(self) -> tuple[str, ...]:
        return self.schools + self.ap_providers

    @property
    def codes(self) -> tuple[str, ...]:
        return (*self.las, self.icb, self.trust, *self.providers)

    def school_of(self, child: Child) -> str:
        """The child's school (by index, not by a random draw: a cast's size changes no story)."""
        return self.schools[child.index % len(self.schools)]

    def ap_provider_of(self, child: Child) -> str:
        return self.ap_providers[child.index % len(self.ap_providers)]


def kind_of(cast: Cast, code: str) -> OrgKind:
    if code in cast.las:
        return OrgKind.LA
    return OrgKind.ICB if code in (cast.icb, cast.trust) else OrgKind.PROVIDER


DEMO_CAST = Cast(las=tuple(DEMO_LAS), la_weights=tuple(DEMO_LAS.values()), icb=DEMO_ICB,
                 trust=DEMO_TRUST, schools=(DEMO_SCHOOL,), ap_providers=(DEMO_AP_PROVIDER,))
"""The demo partnership `sendx run --demo` loads: one process per organisation."""


class Happening(NamedTuple):
    """One thing one organisation did: a command's name and fields; `on` is when it happened."""

    org: str
    command: str
    on: date
    facts: dict[str, Any]


@dataclass
class Story:
    """One child's happenings, in the order each organisation records them."""

    child: Child
    cast: Cast
    today: date
    happenings: list[Happening] = field(default_factory=list)

    def add(self, org: str, command: str, when: str, on: date, **facts: Any) -> bool:
        """`org` did `command` on `on` (its field `when`); nothing on or after `today` happens."""
        if on >= self.today:
            return False
        self.happenings.append(Happening(org, command, on, {when: on, **facts}))
        return True

    def of(self, org: str, *commands: str) -> list[Happening]:
        """What `org` did, oldest story step first (only `commands`, if named)."""
        return [h for h in self.happenings
                if h.org == org and (not commands or h.command in commands)]

    @property
    def has_plan(self) -> bool:
        return any(h.command == "ehc.issue_plan" for h in self.happenings)


def story_of(child: Child, cast: Cast, today: date) -> Story:
    """The child's whole story: the LA's part first, then health's and the providers', which
    answer what the LA did."""
    story = Story(child, cast, today)
    la.tell(story)
    health.tell(story)
    provision.tell(story)
    return story
