"""`sendx audit` logs in as the auditor beside the embedded server, and says what to set where
it cannot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.bus.nats_server import NatsServer
from runtime.settings import Settings
from sendx.commands.login import login_as
from tests.projections.audit.conftest import run_sendx_audit

pytestmark = pytest.mark.integration


def test_beside_the_embedded_server_the_audit_login_is_the_auditor(
    nats_server: NatsServer, data_dir: Path
) -> None:
    assert login_as("auditor", Settings())["user"] == "auditor"


async def test_without_the_data_directory_the_refusal_names_the_variables_to_set(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an auditor whose SENDX_DATA_DIR is not the embedded server's, and no user set
    monkeypatch.setenv("SENDX_DATA_DIR", str(tmp_path / "elsewhere"))
    # when they check the chains, then they are told at once who was refused and what to set
    with pytest.raises(ConnectionError, match=(
        "refused no user .*SENDX_DATA_DIR to its data directory; elsewhere set "
        "SENDX_NATS_USER=auditor and SENDX_NATS_PASSWORD"
    )):
        await asyncio.wait_for(run_sendx_audit("chain", "--nats", nats_server.url), 12)
    # and a wrong password for the auditor is refused the same way, naming the user
    monkeypatch.setenv("SENDX_NATS_USER", "auditor")
    monkeypatch.setenv("SENDX_NATS_PASSWORD", "not-the-password")
    with pytest.raises(ConnectionError, match="refused user auditor"):
        await asyncio.wait_for(run_sendx_audit("person", "p_" + "c" * 32, "--nats",
                                               nats_server.url), 12)
