"""Each organisation's store: SQLite by default, PostgreSQL tables per organisation, AES at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.application import LRUCache
from stories import story

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import AGGREGATE_CACHE, application_name, store_env
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE


def test_sqlite_store_is_one_file_per_organisation(tmp_path: Path) -> None:
    env = store_env(
        organisation("856"), Settings(data_dir=tmp_path, store="sqlite", cipher_key=None)
    )
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "la-856.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE),
    }


def test_postgres_tables_are_prefixed_per_organisation(tmp_path: Path) -> None:
    env = store_env(
        organisation("QK1"), Settings(data_dir=tmp_path, store="postgres", cipher_key=None)
    )
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE),
    }
    assert application_name(organisation("QK1")) == "icb_qk1"


def test_a_cipher_key_turns_on_aes_encryption(tmp_path: Path) -> None:
    env = store_env(organisation("856"), Settings(data_dir=tmp_path, cipher_key="a2V5"))
    assert env["CIPHER_TOPIC"] == "eventsourcing.cipher:AESCipher" and env["CIPHER_KEY"] == "a2V5"


def test_the_aggregate_cache_is_bounded_and_an_operator_can_change_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an operator who sets eventsourcing's own variable
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "250")
    settings = Settings(data_dir=tmp_path, store="sqlite", cipher_key=None)
    # when an LA application opens its store
    app = LaApplication(organisation("856"), store_env(organisation("856"), settings))
    try:
        # then its repository keeps at most that many aggregates
        assert isinstance(app.repository.cache, LRUCache)
        assert app.repository.cache.maxsize == 250
    finally:
        app.factory.close()


def test_a_cached_aggregate_still_sees_what_another_writer_stored(tmp_path: Path) -> None:
    # given two LA applications on the same store (two processes, say), both caching
    settings = Settings(data_dir=tmp_path, store="sqlite", cipher_key=None)
    env = store_env(organisation("856"), settings)
    first, second = LaApplication(organisation("856"), env), LaApplication(organisation("856"), env)
    try:
        for name, fields in story()[:2]:
            first.execute(LA_CATALOGUE.parse(name, fields))
        second.case("856-C-1", "warm the cache")
        # when the first records the decision on the case
        first.execute(LA_CATALOGUE.parse(*story()[2]))
        # then the second, whose cache held the case before, sees the decision
        assert second.case("856-C-1", "read").decided_on is not None
    finally:
        first.factory.close()
        second.factory.close()
