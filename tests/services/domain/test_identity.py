"""NHS numbers are validated (modulus 11) and only keyed pseudonyms leave the organisation."""

from __future__ import annotations

import pytest

from services.domain.identity import InvalidNhsNumber, person_key, validate_nhs_number


def test_valid_nhs_number_with_spaces_is_accepted() -> None:
    assert validate_nhs_number("943 476 5919") == "9434765919"


@pytest.mark.parametrize(
    ("raw", "says"),
    [("943476591", "10 digits"), ("94347659AB", "10 digits"), ("9434765918", "check digit")],
)
def test_invalid_nhs_numbers_say_why(raw: str, says: str) -> None:
    with pytest.raises(InvalidNhsNumber, match=says):
        validate_nhs_number(raw)


def test_person_key_links_the_same_child_and_hides_the_number() -> None:
    key = person_key("9434765919", b"partnership")
    assert key == person_key("943-476-5919", b"partnership")
    assert key != person_key("9434765919", b"another partnership")
    assert "9434765919" not in key and key.startswith("p_") and len(key) == 34
