"""The partnership a deployment serves: the demo one (Leicester, Leicestershire and Rutland)
until a partnership of its own is configured, and looking an organisation up in it.

Data, not the standard: `contracts/topology.py` says what each kind of organisation may publish;
this module says which organisations there are. Runtime, services and projections take the
partnership as an argument, defaulting to this one.
"""

from __future__ import annotations

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
