"""How processes connect: services retry for ever, quietly; a CLI command is bounded."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.bus import connection
from runtime.bus.connection import (
    BusUnreachable,
    cli_timeout,
    connect_bus,
    connect_cli,
    quiet_retries,
)
from runtime.bus.nats_server import NatsServer
from tests.waiting import eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_a_failing_connection_is_logged_once_per_period_without_tracebacks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a long-running process's callbacks and a clock the test moves
    clock = Clock()
    monkeypatch.setattr(connection.time, "monotonic", clock.monotonic)
    callbacks = quiet_retries("sendx-projector", "nats://127.0.0.1:4222")
    caplog.set_level(logging.WARNING, logger="sendx.bus")
    # when the server refuses twice a second for 15 seconds
    for _ in range(30):
        await callbacks["error_cb"](ConnectionRefusedError(111, "Connect call failed"))
        clock.now += 0.5
    # then there are two lines (at the start and after RETRY_LOG_EVERY), none a traceback
    lines = [r for r in caplog.records if r.name == "sendx.bus"]
    assert [r.exc_info for r in lines] == [None, None]
    assert "sendx-projector: NATS at nats://127.0.0.1:4222:" in lines[0].getMessage()
    assert "(21 failed attempts in 10 s; retrying every 0.5 s)" in lines[1].getMessage()
    # and coming back is one line too
    await callbacks["reconnected_cb"]()
    assert caplog.records[-1].getMessage() == (
        "sendx-projector: NATS at nats://127.0.0.1:4222: connected again after 30 failed attempts"
    )


@pytest.mark.integration
async def test_a_service_connection_outlasts_a_server_restart_logging_lines_not_tracebacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given a process connected the way services are
    server = NatsServer(store_dir=tmp_path / "nats").start()
    caplog.set_level(logging.DEBUG)
    nc = await connect_bus(server.url, name="sendx-test-relay")

    def logged(text: str) -> bool:
        return any(text in r.getMessage() for r in caplog.records)

    try:
        # when the server goes away and comes back on the same port
        server.stop()
        await eventually(lambda: logged("failed attempts in"), 30, what="the outage logged")
        server.start()
        await eventually(lambda: logged("connected again after"), 30, what="the return logged")
        # then the connection works again
        await nc.flush(timeout=5)
        # and the outage was one line each way, nothing with a traceback
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []
        assert sum(logged_line("disconnected", r) for r in caplog.records) == 1
    finally:
        await nc.close()
        server.stop()


def logged_line(text: str, record: logging.LogRecord) -> bool:
    return record.name == "sendx.bus" and record.getMessage().endswith(text)


def test_the_cli_timeout_comes_from_the_flag_then_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SENDX_CLI_TIMEOUT", raising=False)
    assert cli_timeout() == 15.0
    monkeypatch.setenv("SENDX_CLI_TIMEOUT", "4")
    assert cli_timeout() == 4.0
    assert cli_timeout(2.5) == 2.5
    monkeypatch.setenv("SENDX_CLI_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="SENDX_CLI_TIMEOUT='soon': must be a number of seconds"):
        cli_timeout()
    with pytest.raises(ValueError, match="must be more than 0 seconds"):
        cli_timeout(0)


@pytest.mark.integration
async def test_a_cli_login_refused_ends_at_once_naming_server_and_user(tmp_path: Path) -> None:
    from runtime.bus.credentials import embedded_auth

    server = NatsServer(store_dir=tmp_path / "nats", auth=embedded_auth(tmp_path)).start()
    try:
        with pytest.raises(BusUnreachable) as refused:
            await connect_cli(server.url, name="sendx-test", user="auditor", password="wrong",
                              timeout=60, advice="set SENDX_NATS_PASSWORD")
        assert str(refused.value).startswith(f"NATS at {server.url} refused user auditor (")
        assert str(refused.value).endswith("): set SENDX_NATS_PASSWORD")
    finally:
        server.stop()
