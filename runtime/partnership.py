"""The partnership a deployment serves: the demo one (Leicester, Leicestershire and Rutland)
until a partnership of its own is configured, looking an organisation up in it, and reading its
data-sharing agreement.

Data, not the standard: `contracts/topology.py` says what each kind of organisation may publish;
this module says which organisations there are. Runtime, services and projections take the
partnership as an argument, defaulting to this one. The agreement (`contracts.agreements`) is
read here because two layers need it: the feed process applies it, and the NATS permissions
are rendered from it (who may read a feed, where the feeder may publish).
"""

from __future__ import annotations

from pathlib import Path

from contracts.agreements import Agreement, AgreementError, check, parse_agreement
from contracts.topology import Organisation, OrgKind

DEMO_PARTNERSHIP: tuple[Organisation, ...] = (
    Organisation("856", OrgKind.LA, "Leicester City Council"),
    Organisation("855", OrgKind.LA, "Leicestershire County Council"),
    Organisation("857", OrgKind.LA, "Rutland County Council"),
    Organisation("QK1", OrgKind.ICB, "NHS Leicester, Leicestershire and Rutland ICB"),
    Organisation("RT5", OrgKind.ICB, "Leicestershire Partnership NHS Trust"),
    Organisation("120001", OrgKind.PROVIDER, "Demo Secondary School"),
    Organisation("AP001", OrgKind.PROVIDER, "Demo Alternative Provision Academy"),
)


def organisation(
    code: str, partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP
) -> Organisation:
    for org in partnership:
        if org.code == code:
            return org
    known = ", ".join(o.code for o in partnership)
    raise LookupError(f"organisation {code!r} is not in the partnership (known: {known})")


DEMO_AGREEMENT = Path(__file__).resolve().parents[1] / "deploy" / "sharing" / "agreements.toml"
"""The demo partnership's data-sharing agreement: the default wherever one is read."""


def load_agreement(
    path: Path = DEMO_AGREEMENT, partnership: tuple[Organisation, ...] = DEMO_PARTNERSHIP
) -> Agreement:
    """The agreement at `path`, refused (naming every problem) unless `check` passes."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise AgreementError(f"cannot read the agreement {path}: {exc.strerror}") from None
    agreement = parse_agreement(text, str(path))
    problems = check(agreement, partnership)
    if problems:
        raise AgreementError(f"{path}: " + "; ".join(problems))
    return agreement
