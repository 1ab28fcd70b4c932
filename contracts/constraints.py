"""What a value must be to enter the shared history: NHS numbers, free references and dates.

Declared once here and used by the contract models (`contracts.vocab.LocalId`) and by every
service's commands (`services/<kind>/commands.py`), so that whatever a service accepts its relay
can publish and every consumer can decode. Pure functions; each raises `ValueError` with the
rule it applies (pydantic turns that into an error naming the field).

- **NHS number** (NHS Data Dictionary): exactly ten ASCII digits 0-9 (ASCII spaces and hyphens
  between them are ignored: `943 476 5919`); the tenth is the modulus-11 check digit, weights
  10..2 over the first nine, check = 11 - (sum mod 11), 11 becomes 0 and 10 is invalid.
  Fullwidth, Arabic-Indic or other Unicode digits are refused (`str.isdigit` would take them).
- **Free references** (`case_id`, `plan_id`, `advice_request_id`, `referral_id`,
  `diagnosis_id`, `placement_id`, `timetable_id`, and the partner's `record_id`) are the
  organisation's own opaque codes and travel in clear on a history that cannot be deleted, so
  they must not carry personal data: a value is refused when it contains
  1. a valid NHS number: a run of exactly ten digits, or three-three-four digits separated by
     one of ` ._:/-`, passing the modulus-11 check;
  2. a date: year-month-day or day-month-year with a four-digit year from 1900 to 2099,
     separated by `-/._` or written together (`2011-04-17`, `20110417`, `17/04/2011`), that is a
     real calendar date;
  3. a name-like word: a capital letter followed by two or more small letters (`Okonkwo`,
     `Name`); codes are written in capitals and digits (`856-C-000123`).
  The refusal names the field and the rule, never the value (it may be an NHS number or a
  name). *Not caught*: names in all capitals or all small letters, names shorter than three
  letters, two-digit years, identifiers encoded some other way: the guard stops careless
  leaks, it is not a detector of every identifier.
- **Dates** at the command boundary (`EventDate`, `PlannedDate`, `BirthDate`): what happened
  may be at most `FUTURE_TOLERANCE` ahead of today (UTC), for clock and time-zone differences
  between a partner and the service; what is planned (`agreed_transfer_on`, `moves_on`) at most
  `PLANNED_HORIZON` ahead; nothing before `EARLIEST`. These depend on today, so the contract's
  event models do not apply them (an event must decode the same whenever it is read); the
  services also refuse dates before the person's birth and out of statutory order
  (`services/<kind>/` domain rules).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

EARLIEST = date(1900, 1, 1)
"""No date in the shared history is earlier (the oldest birth month the contract carries)."""
FUTURE_TOLERANCE = timedelta(days=1)
"""How far ahead of today (UTC) the date of something that happened may be."""
PLANNED_HORIZON = timedelta(days=3 * 366)
"""How far ahead a planned date may be (a destination or transfer agreed months in advance)."""

_NHS_SEPARATORS = " -"
_TEN_ASCII_DIGITS = re.compile(r"[0-9]{10}")
_NHS_RUN = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")
_NHS_GROUPED = re.compile(
    r"(?=(?<![0-9])([0-9]{3})[ ._:/-]([0-9]{3})[ ._:/-]([0-9]{4})(?![0-9]))"
)
_SEP = r"[-/._]?"
_YEAR = r"((?:19|20)[0-9]{2})"
_TWO = r"([0-9]{2})"
_YMD = re.compile(rf"(?=(?<![0-9]){_YEAR}{_SEP}{_TWO}{_SEP}{_TWO}(?![0-9]))")
_DMY = re.compile(rf"(?=(?<![0-9]){_TWO}{_SEP}{_TWO}{_SEP}{_YEAR}(?![0-9]))")
"""Lookaheads, so overlapping candidates are all tried (`1999-99-2011-04-17`)."""
_EIGHT_DIGITS = re.compile(r"[0-9](?:[ ._:/-]?[0-9]){7}")
"""Eight digits with at most single separators between them: every NHS number and date above
contains such a run, so a value without one (most references) is cleared in one search."""
_NAME_LIKE = re.compile(r"[A-Z][a-z]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RECORD_ID_MAX = 128

PERSONAL_DATA = "references must not carry personal data"


def today() -> date:
    """The service's today: the UTC date (the same on every host, whatever its time zone)."""
    return datetime.now(UTC).date()


# -- NHS numbers -------------------------------------------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit of the first nine digits; None when it would be 10 (invalid)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(digits: str) -> bool:
    """Ten ASCII digits whose last is the modulus-11 check digit of the first nine."""
    if not _TEN_ASCII_DIGITS.fullmatch(digits):
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def parse_nhs_number(raw: object) -> str:
    """The ten ASCII digits of an NHS number, or `ValueError` saying which rule it breaks."""
    digits = "".join(ch for ch in str(raw) if ch not in _NHS_SEPARATORS)
    if not _TEN_ASCII_DIGITS.fullmatch(digits):
        raise ValueError(
            f"NHS number must be 10 digits, got {len(digits)} characters"
            + ("" if digits.isascii() else "; only the ASCII digits 0-9 count (not fullwidth "
               "or other scripts' digits)")
        )
    if not is_valid_nhs_number(digits):
        raise ValueError("NHS number fails the modulus-11 check digit")
    return digits


# -- free references ---------------------------------------------------------------------------


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def contains_nhs_number(value: str) -> bool:
    candidates = [m.group() for m in _NHS_RUN.finditer(value)]
    candidates += ["".join(m.groups()) for m in _NHS_GROUPED.finditer(value)]
    return any(is_valid_nhs_number(c) for c in candidates)


def contains_date(value: str) -> bool:
    return any(_real_date(*m.groups()) for m in _YMD.finditer(value)) or any(
        _real_date(m[3], m[2], m[1]) for m in _DMY.finditer(value)
    )


def contains_name(value: str) -> bool:
    return _NAME_LIKE.search(value) is not None


def no_personal_data(value: str) -> str:
    """A free reference as given, or `ValueError` naming the rule it breaks (never the value)."""
    digits = _EIGHT_DIGITS.search(value) is not None
    if digits and contains_nhs_number(value):
        raise ValueError(
            f"contains a valid NHS number (ten digits passing the modulus-11 check); "
            f"{PERSONAL_DATA}"
        )
    if digits and contains_date(value):
        raise ValueError(
            f"contains a date (day, month and year, e.g. a date of birth); {PERSONAL_DATA}"
        )
    if contains_name(value):
        raise ValueError(
            f"contains a name-like word (a capital letter followed by small letters); "
            f"{PERSONAL_DATA}: use codes in capitals and digits such as 856-C-000123"
        )
    return value


def record_id(value: object) -> str:
    """A partner's own row id (`record_id`): stored with the row and echoed in replies, so the
    same rules as any free reference, up to `RECORD_ID_MAX` printable characters."""
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty (your own id for this row)")
    if len(text) > RECORD_ID_MAX or _CONTROL.search(text):
        raise ValueError(
            f"must be 1 to {RECORD_ID_MAX} printable characters, got {len(text)} characters"
            + (" including control characters" if _CONTROL.search(text) else "")
        )
    return no_personal_data(text)


# -- dates -------------------------------------------------------------------------------------


def not_before_earliest(value: date) -> date:
    if value < EARLIEST:
        raise ValueError(f"{value} is before {EARLIEST}: no date in the shared history is earlier")
    return value


def happened_by(value: date, now: date) -> date:
    """A date something happened on: not after `now` + `FUTURE_TOLERANCE`, not before EARLIEST."""
    latest = now + FUTURE_TOLERANCE
    if value > latest:
        raise ValueError(
            f"{value} is in the future (today is {now}; a date something happened on may be at "
            f"most {FUTURE_TOLERANCE.days} day ahead, for clock and time-zone differences)"
        )
    return not_before_earliest(value)


def planned_by(value: date, now: date) -> date:
    """A planned date: not after `now` + `PLANNED_HORIZON`, not before EARLIEST."""
    latest = now + PLANNED_HORIZON
    if value > latest:
        raise ValueError(
            f"{value} is too far ahead (today is {now}; a planned date may be at most "
            f"{PLANNED_HORIZON.days // 366} years ahead, until {latest})"
        )
    return not_before_earliest(value)


def born_by(value: date, now: date) -> date:
    """A date of birth: from EARLIEST to today (the shared birth month must be real)."""
    if not EARLIEST <= value <= now:
        raise ValueError(f"date of birth {value} must be between {EARLIEST} and today ({now})")
    return value


EventDate = Annotated[
    date,
    AfterValidator(lambda value: happened_by(value, today())),
    Field(description=f"YYYY-MM-DD, from {EARLIEST} to at most a day after today."),
]
"""The date something happened: the statutory dates the timescales run from."""
PlannedDate = Annotated[
    date,
    AfterValidator(lambda value: planned_by(value, today())),
    Field(description=f"YYYY-MM-DD, from {EARLIEST} to at most three years ahead."),
]
"""A date agreed for the future (a transfer, a move to a post-16 destination)."""
BirthDate = Annotated[
    date,
    AfterValidator(lambda value: born_by(value, today())),
    Field(description=f"Full date of birth, YYYY-MM-DD, from {EARLIEST} to today."),
]
