"""`person.erase` through an organisation's command API: who may send it and what it answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.partnership import organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.endpoint.ingest import Ingest
from services.icb.application import IcbApplication
from services.icb.ingest import ICB_CATALOGUE
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE

NHS = "9434765919"
PERSON = {"nhs_number": NHS, "given_name": "Amelia", "family_name": "Okonkwo",
          "born_on": "2011-04-17"}
ERASE = {"nhs_number": NHS, "reason": "data_subject_request", "erased_on": "2025-06-20"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, store="sqlite", partnership_key=b"k", cipher_key=None)


@pytest.fixture
def la(settings: Settings) -> Iterator[Ingest]:
    org = organisation("856")
    app = LaApplication(org, store_env(org, settings))
    try:
        yield Ingest(app, LA_CATALOGUE)
    finally:
        app.factory.close()


def test_the_la_erases_a_person_it_registered_once(la: Ingest) -> None:
    # given a person registered by LA 856
    assert la.command("person.register", PERSON)["ok"]
    # when the LA erases them
    first = la.command("person.erase", ERASE)
    # then one event is recorded to share, and erasing again changes nothing
    assert first["ok"] and len(first["event_ids"]) == 1
    assert la.command("person.erase", ERASE) == {"ok": True, "event_ids": [], "duplicate": False}


def test_erasing_someone_the_la_never_registered_is_refused_without_the_nhs_number(
    la: Ingest,
) -> None:
    answer = la.command("person.erase", ERASE)
    assert not answer["ok"]
    assert "no person with this NHS number is registered by LA 856" in answer["error"]
    assert NHS not in answer["error"]


def test_an_erasure_needs_a_known_reason(la: Ingest) -> None:
    la.command("person.register", PERSON)
    answer = la.command("person.erase", {**ERASE, "reason": "because"})
    assert not answer["ok"] and "reason" in answer["error"]


def test_an_nhs_organisation_erases_what_it_shared_about_a_person_it_registered(
    settings: Settings,
) -> None:
    # each organisation is controller of its own data: the ICB erases its own, like the LA
    org = organisation("QK1")
    app = IcbApplication(org, store_env(org, settings))
    try:
        icb = Ingest(app, ICB_CATALOGUE)
        refused = icb.command("person.erase", ERASE)
        icb.command("person.register", PERSON)
        erased = icb.command("person.erase", ERASE)
    finally:
        app.factory.close()
    assert not refused["ok"]
    assert "no person with this NHS number is registered by NHS organisation QK1" in refused[
        "error"]
    assert erased["ok"] and len(erased["event_ids"]) == 1
