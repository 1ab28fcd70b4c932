"""Pseudonymous identity: NHS numbers in, keyed person keys out (never the number itself).

The NHS number check digit is modulus 11 (NHS Data Dictionary, "NHS number"): weights 10..2
over the first nine digits, check = 11 - (sum mod 11); 11 becomes 0 and 10 is invalid.
The person key is HMAC-SHA256(partnership key, NHS number), truncated to 128 bits: the same
child links across organisations, and nobody without the partnership key can reverse it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date


class InvalidNhsNumber(ValueError):
    pass


def nhs_check_digit(first_nine: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def validate_nhs_number(raw: str) -> str:
    """Return the 10-digit NHS number (spaces and dashes allowed in input) or raise why not."""
    digits = "".join(ch for ch in str(raw) if ch not in " -")
    if len(digits) != 10 or not digits.isdigit():
        raise InvalidNhsNumber(f"NHS number must be 10 digits, got {len(digits)} characters")
    expected = nhs_check_digit(digits[:9])
    if expected is None or expected != int(digits[9]):
        raise InvalidNhsNumber("NHS number fails the modulus-11 check digit")
    return digits


def person_key(nhs_number: str, partnership_key: bytes) -> str:
    digits = validate_nhs_number(nhs_number)
    mac = hmac.new(partnership_key, digits.encode("ascii"), hashlib.sha256).hexdigest()
    return f"p_{mac[:32]}"


def birth_month(born_on: date) -> str:
    """Date of birth leaves the organisation as year-month only."""
    return f"{born_on.year:04d}-{born_on.month:02d}"
