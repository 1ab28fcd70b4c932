"""Each organisation's store: SQLite by default, PostgreSQL tables per organisation, AES at rest."""

from __future__ import annotations

from pathlib import Path

from contracts.topology import organisation
from services.config import Settings
from services.store import application_name, store_env


def test_sqlite_store_is_one_file_per_organisation(tmp_path: Path) -> None:
    env = store_env(
        organisation("856"), Settings(data_dir=tmp_path, store="sqlite", cipher_key=None)
    )
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "la-856.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def test_postgres_tables_are_prefixed_per_organisation(tmp_path: Path) -> None:
    env = store_env(
        organisation("QK1"), Settings(data_dir=tmp_path, store="postgres", cipher_key=None)
    )
    assert env == {"PERSISTENCE_MODULE": "eventsourcing.postgres"}
    assert application_name(organisation("QK1")) == "icb_qk1"


def test_a_cipher_key_turns_on_aes_encryption(tmp_path: Path) -> None:
    env = store_env(organisation("856"), Settings(data_dir=tmp_path, cipher_key="a2V5"))
    assert env["CIPHER_TOPIC"] == "eventsourcing.cipher:AESCipher" and env["CIPHER_KEY"] == "a2V5"
