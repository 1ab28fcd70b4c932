"""The demo access tokens `sendx run` prints are the same on every run over one data directory,
so a dashboard signed in before a restart stays signed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from projections.access.tokens import (
    DEMO_TOKENS_KEPT,
    TokenRegistry,
    tokens_file,
    write_demo_tokens,
)
from runtime.partnership import DEMO_PARTNERSHIP


def test_a_second_run_keeps_every_holders_token(tmp_path: Path) -> None:
    # given the tokens of a first run
    first = write_demo_tokens(tmp_path)
    # when the next run writes them again
    second = write_demo_tokens(tmp_path)
    # then every holder has the same token, and the API still knows each
    assert second == first
    registry = TokenRegistry.from_toml(tokens_file(tmp_path))
    assert all(registry.identify(t.token) is not None for t in second)
    # and the tokens kept in plain are for this user only
    assert (tmp_path / "access" / DEMO_TOKENS_KEPT).stat().st_mode & 0o077 == 0


def test_a_holder_new_to_the_partnership_gets_a_token_and_the_others_keep_theirs(
    tmp_path: Path,
) -> None:
    # given a first run without the AP academy
    without_ap = tuple(org for org in DEMO_PARTNERSHIP if org.code != "AP001")
    first = {t.name: t.token for t in write_demo_tokens(tmp_path, without_ap)}
    # when the partnership has it on the next run
    second = {t.name: t.token for t in write_demo_tokens(tmp_path)}
    # then only the newcomer has a new token
    (newcomer,) = second.keys() - first.keys()
    assert "Alternative Provision" in newcomer
    assert {name: second[name] for name in first} == first


def test_a_damaged_tokens_file_is_refused_naming_it(tmp_path: Path) -> None:
    write_demo_tokens(tmp_path)
    kept = tmp_path / "access" / DEMO_TOKENS_KEPT
    kept.write_text('[{"name": "x"}]')
    with pytest.raises(ValueError) as refused:
        write_demo_tokens(tmp_path)
    assert str(kept) in str(refused.value) and "delete it" in str(refused.value)
