"""Pseudonymous identity: NHS numbers in, keyed person keys out (never the number itself).

The NHS number rule (ten ASCII digits, modulus-11 check digit) is the contract's own
(`contracts.constraints.parse_nhs_number`); this module adds the error type partners see and the
person key: HMAC-SHA256(partnership key, NHS number), truncated to 128 bits, so the same child
links across organisations, and nobody without the partnership key can reverse it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from contracts.constraints import nhs_check_digit, parse_nhs_number

__all__ = ["InvalidNhsNumber", "birth_month", "nhs_check_digit", "person_key",
           "validate_nhs_number"]


class InvalidNhsNumber(ValueError):
    pass


def validate_nhs_number(raw: str) -> str:
    """Return the 10-digit NHS number (ASCII spaces and hyphens allowed in input) or raise why
    not."""
    try:
        return parse_nhs_number(raw)
    except ValueError as exc:
        raise InvalidNhsNumber(str(exc)) from None


def person_key(nhs_number: str, partnership_key: bytes) -> str:
    digits = validate_nhs_number(nhs_number)
    mac = hmac.new(partnership_key, digits.encode("ascii"), hashlib.sha256).hexdigest()
    return f"p_{mac[:32]}"


def birth_month(born_on: date) -> str:
    """Date of birth leaves the organisation as year-month only."""
    return f"{born_on.year:04d}-{born_on.month:02d}"
