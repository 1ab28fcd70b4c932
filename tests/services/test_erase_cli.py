"""`sendx erase` as the LA's partner system would run it: logged in as `la-856-client` from the
data directory, against `sendx service la` on the secured embedded server; never as admin."""

from __future__ import annotations

import subprocess

import orjson
import pytest
from stories import NHS_NUMBER, person_fields

from sendx.cli import main
from tests.services.test_cli import la_service, secured  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def test_erase_as_the_client_erases_the_person_it_registered(
    la_service: subprocess.Popen,  # noqa: F811  (the imported fixture)
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a person the LA registered through its partner-system login
    fields = orjson.dumps(person_fields()).decode()
    assert main(["command", "--org", "856", "person.register", "--json", fields]) == 0
    capsys.readouterr()
    # when the LA erases them from the command line, with no NATS user of its own set
    code = main(["erase", NHS_NUMBER, "--org", "856", "--reason", "data_subject_request",
                 "--on", "2025-06-20"])
    # then the service records the erasure and answers with the event it shares
    answer = orjson.loads(capsys.readouterr().out)
    assert code == 0
    assert answer["ok"] is True and len(answer["event_ids"]) == 1
    # and erasing them again shares nothing new, and says so
    assert main(["erase", NHS_NUMBER, "--org", "856", "--reason", "data_subject_request",
                 "--on", "2025-06-20"]) == 0
    assert "already erased" in capsys.readouterr().err
