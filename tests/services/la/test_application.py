"""The LA application on a real SQLite file: commands in, events stored, idempotent by design."""

from __future__ import annotations

from pathlib import Path

import pytest
from stories import NHS_NUMBER, person_fields, story

from contracts.topology import Organisation
from runtime.settings import Settings
from runtime.store import store_env
from services.domain.aggregates import DomainError
from services.la import commands as c
from services.la.application import LaApplication
from services.la.ingest import LA_CATALOGUE


def run(
    app: LaApplication, steps: list[tuple[str, dict]], record_prefix: str | None = None
) -> list:
    outcomes = []
    for n, (name, fields) in enumerate(steps, start=1):
        record_id = f"{record_prefix}{n}" if record_prefix else None
        outcomes.append(app.execute(LA_CATALOGUE.parse(name, fields), record_id))
    return outcomes


def stored_count(app: LaApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_plan_for_an_unknown_case_names_the_case_and_the_la(la_app: LaApplication) -> None:
    with pytest.raises(DomainError) as refused:
        run(la_app, story()[3:])
    assert (
        str(refused.value)
        == "ehc.plan_issued for case 856-C-1: no assessment request recorded by LA 856"
    )


def test_request_for_an_unregistered_person_says_to_register_first(la_app: LaApplication) -> None:
    with pytest.raises(
        DomainError,
        match="no person with this NHS number is registered by LA 856; send person.register first",
    ):
        run(la_app, story()[1:2])


def test_sending_the_same_record_twice_stores_nothing_new(la_app: LaApplication) -> None:
    # given a story imported with the partner's record ids
    first = run(la_app, story(), record_prefix="row-")
    stored = stored_count(la_app)
    # when exactly the same records arrive again
    again = run(la_app, story(), record_prefix="row-")
    # then the same event ids come back, marked duplicate, and nothing was stored
    assert [o.event_ids for o in again] == [o.event_ids for o in first]
    assert all(o.duplicate for o in again)
    assert stored_count(la_app) == stored


def test_reusing_a_record_id_for_different_content_is_refused(la_app: LaApplication) -> None:
    run(la_app, story()[:1], record_prefix="row-")
    changed = LA_CATALOGUE.parse("person.register", person_fields(given_name="Amy"))
    with pytest.raises(
        DomainError, match="record_id row-1 was already imported as a different person.register row"
    ):
        la_app.execute(changed, "row-1")


def test_registering_a_person_again_with_the_same_details_is_a_no_op(la_app: LaApplication) -> None:
    run(la_app, story()[:1])
    assert la_app.execute(c.RegisterPerson(**person_fields())).event_ids == []


def test_registering_a_known_nhs_number_with_a_different_birth_date_is_refused(
    la_app: LaApplication,
) -> None:
    run(la_app, story()[:1])
    with pytest.raises(
        DomainError, match="already registered by LA 856 with a different name or date of birth"
    ):
        la_app.execute(c.RegisterPerson(**person_fields(born_on="2011-04-18")))


def test_a_plan_id_belongs_to_one_case(la_app: LaApplication) -> None:
    run(la_app, story())
    run(la_app, story(case="856-C-2")[1:3])
    with pytest.raises(
        DomainError,
        match="ehc.plan_issued for plan 856-P-1: this plan id is already used by another case",
    ):
        run(la_app, story(case="856-C-2")[3:])


def test_later_plan_commands_find_the_case_by_plan_id(la_app: LaApplication) -> None:
    run(la_app, story())
    la_app.execute(
        c.HoldAnnualReview(plan_id="856-P-1", held_on="2026-05-01", preparing_for_adulthood=True)
    )
    la_app.execute(c.CeasePlan(plan_id="856-P-1", ceased_on="2026-09-01", reason="needs_met"))
    with pytest.raises(DomainError, match="for plan 856-P-1: the plan was ceased on 2026-09-01"):
        la_app.execute(c.HoldAnnualReview(plan_id="856-P-1", held_on="2026-11-01"))


def test_with_a_cipher_key_names_and_nhs_numbers_are_encrypted_at_rest(
    leicester: Organisation, tmp_path: Path
) -> None:
    # given an LA store with SENDX_CIPHER_KEY set
    from eventsourcing.cipher import AESCipher

    settings = Settings(data_dir=tmp_path, cipher_key=AESCipher.create_key(32))
    app = LaApplication(leicester, store_env(leicester, settings))
    # when a person is registered
    run(app, story()[:2])
    # then the store reads back, but the file holds neither the name nor the NHS number
    person = app.repository.get(app.person(NHS_NUMBER, "test").id)
    assert person.given_name == "Amelia"
    app.factory.close()
    raw = (tmp_path / "la-856.sqlite").read_bytes()
    assert b"Amelia" not in raw and NHS_NUMBER.encode() not in raw
