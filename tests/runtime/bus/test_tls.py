"""TLS on the client port: clients verify the server against the partnership CA; plain refused.

Every sendx process takes its TLS from the environment (`SENDX_NATS_CA`, and for mutual TLS
`SENDX_NATS_CERT`/`SENDX_NATS_KEY`), as compose and Kubernetes set it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import nats.errors
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client

from runtime.bus.connection import BusTlsError, broker_credentials, connect_bus, env_tls
from runtime.bus.nats_server import NatsServer, ServerTls
from runtime.bus.streams import EVENTS_STREAM, ensure_streams
from tests.runtime.bus.conftest import Certificates

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_server(tmp_path: Path, certificates: Certificates) -> Iterator[NatsServer]:
    tls = ServerTls(certificates.cert_file, certificates.key_file)
    server = NatsServer(store_dir=tmp_path / "nats", tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mtls_server(tmp_path: Path, certificates: Certificates) -> Iterator[NatsServer]:
    """Mutual TLS: the server also demands a client certificate signed by the partnership CA."""
    tls = ServerTls(certificates.cert_file, certificates.key_file,
                    ca_file=certificates.ca_file, verify_clients=True)
    server = NatsServer(store_dir=tmp_path / "nats", tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


def is_tls(nc: Client) -> bool:
    writer = nc._transport._io_writer if nc._transport is not None else None
    return writer is not None and writer.get_extra_info("ssl_object") is not None


async def test_a_client_trusting_the_ca_publishes_over_tls(
    tls_server: NatsServer, certificates: Certificates
) -> None:
    # given a client that verifies the server against the partnership CA
    context = ssl.create_default_context(cafile=str(certificates.ca_file))
    nc = await connect_bus(tls_server.url, name="test-tls", tls=context)
    try:
        # when it publishes to JetStream
        js = nc.jetstream()
        await ensure_streams(js)
        ack = await js.publish("send.evt.v1.856.ehc.plan_issued.p_" + "a" * 32, b"{}")
        # then the event is stored, and the connection was TLS
        assert ack.stream == EVENTS_STREAM and ack.seq == 1
        assert is_tls(nc)
    finally:
        await nc.close()


def read_until_closed(stream: BinaryIO) -> bytes:
    try:
        return stream.read()
    except ConnectionResetError:
        return b""


def test_the_server_refuses_a_plain_connection(tls_server: NatsServer) -> None:
    # given a client speaking the NATS protocol without TLS
    with socket.create_connection((tls_server.host, tls_server.port), timeout=5) as sock:
        stream = sock.makefile("rwb")
        info = stream.readline()
        assert b'"tls_required":true' in info
        # when it sends CONNECT in the clear
        stream.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        stream.flush()
        # then the server, expecting a TLS handshake, closes the connection without a PONG
        assert read_until_closed(stream) == b""


async def test_a_client_not_trusting_the_ca_does_not_connect(tls_server: NatsServer) -> None:
    untrusting = ssl.create_default_context()  # system CAs only: not the partnership CA
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.wait_for(
            connect_bus(
                tls_server.url, name="test-untrusting", tls=untrusting, allow_reconnect=False
            ),
            timeout=10,
        )


async def test_a_process_trusts_the_ca_its_environment_names(
    tls_server: NatsServer, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process whose environment names the partnership CA, as compose and Kubernetes do
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    # when it connects as every sendx process does, with no TLS argument
    nc = await connect_bus(tls_server.url, name="test-env-tls", allow_reconnect=False)
    try:
        # then the connection is TLS, verified against that CA, and JetStream answers over it
        await ensure_streams(nc.jetstream())
        assert is_tls(nc)
    finally:
        await nc.close()


async def test_a_service_command_subscriber_connects_with_the_same_tls(
    tls_server: NatsServer, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the environment of a service: the CA, no NATS user (an open server)
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    broker = NatsBroker(tls_server.url, **broker_credentials())

    @broker.subscriber("send.cmd.856.ping")
    async def pong(body: str) -> str:
        return f"pong {body}"

    # when the FastStream broker starts (as the service's command endpoint does)
    async with broker:
        await broker.start()
        nc = await connect_bus(tls_server.url, name="test-partner", allow_reconnect=False)
        try:
            # then it answers a command sent over TLS
            reply = await nc.request("send.cmd.856.ping", b"hello", timeout=10)
            assert reply.data == b"pong hello"
        finally:
            await nc.close()


async def test_with_mutual_tls_a_process_shows_the_certificate_its_environment_names(
    mtls_server: NatsServer, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process with the CA and its own certificate and key in its environment
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    monkeypatch.setenv("SENDX_NATS_CERT", str(certificates.client_cert_file))
    monkeypatch.setenv("SENDX_NATS_KEY", str(certificates.client_key_file))
    # when it connects, then the server that demands a client certificate lets it in
    nc = await connect_bus(mtls_server.url, name="test-mtls", allow_reconnect=False)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        ack = await js.publish("send.evt.v1.856.ehc.plan_issued.p_" + "b" * 32, b"{}")
        assert ack.seq == 1 and is_tls(nc)
    finally:
        await nc.close()


async def test_with_mutual_tls_a_process_without_a_certificate_is_refused(
    mtls_server: NatsServer, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a process that trusts the CA but has no certificate of its own
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    # when it connects, then the server ends the handshake and the process is not connected
    with pytest.raises((ssl.SSLError, OSError, nats.errors.Error)):
        nc = await asyncio.wait_for(
            connect_bus(mtls_server.url, name="test-no-cert", allow_reconnect=False), timeout=10
        )
        try:
            await nc.flush(timeout=5)  # TLS 1.3: the refusal can arrive after the handshake
        finally:
            await nc.close()


def test_without_tls_variables_a_process_connects_in_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("SENDX_NATS_CA", "SENDX_NATS_CERT", "SENDX_NATS_KEY"):
        monkeypatch.delenv(variable, raising=False)
    assert env_tls() is None


def test_a_ca_file_that_does_not_exist_is_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_NATS_CA", str(tmp_path / "missing-ca.crt"))
    with pytest.raises(BusTlsError, match=r"SENDX_NATS_CA='.*missing-ca\.crt': no such file"):
        env_tls()


def test_a_client_certificate_without_its_key_is_refused(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    monkeypatch.setenv("SENDX_NATS_CERT", str(certificates.client_cert_file))
    monkeypatch.delenv("SENDX_NATS_KEY", raising=False)
    with pytest.raises(BusTlsError, match="SENDX_NATS_CERT is set but SENDX_NATS_KEY is not"):
        env_tls()


def test_a_file_that_is_not_a_certificate_is_refused_naming_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    monkeypatch.setenv("SENDX_NATS_CA", str(tmp_path / "ca.crt"))
    with pytest.raises(BusTlsError, match="cannot use the TLS files from SENDX_NATS_CA"):
        env_tls()


def test_the_cli_creates_the_streams_over_tls_from_its_environment(
    tls_server: NatsServer, certificates: Certificates
) -> None:
    # given the `streams` job's environment as compose sets it: a tls:// URL and the CA
    env = {**os.environ, "NATS_URL": tls_server.url, "SENDX_NATS_CA": str(certificates.ca_file)}
    # when the CLI runs as its own process
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "sendx"), "deploy", "streams", "--replicas", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    # then it connected over TLS and created the streams
    assert ran.returncode == 0, ran.stderr
    assert f"streams ready on {tls_server.url}" in ran.stdout


async def test_a_process_configured_for_tls_never_speaks_plain_to_a_server_without_it(
    tmp_path: Path, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server that offers no TLS (as one posing as ours on the network might)
    plain = NatsServer(store_dir=tmp_path / "plain").start()
    monkeypatch.setenv("SENDX_NATS_CA", str(certificates.ca_file))
    try:
        # when a process configured for TLS connects with its password, then it does not
        # connect: it starts with a TLS handshake, which that server cannot answer
        with pytest.raises((ssl.SSLError, OSError, nats.errors.Error)):
            nc = await asyncio.wait_for(
                connect_bus(plain.url, name="test-downgrade", user="la-856",
                            password="never-in-plain", allow_reconnect=False),
                timeout=10,
            )
            await nc.close()
    finally:
        plain.stop()
