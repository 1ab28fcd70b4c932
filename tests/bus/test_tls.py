"""TLS on the client port: clients verify the server against the partnership CA; plain refused."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from services.bus.connection import connect_bus
from services.bus.nats_server import NatsServer, ServerTls
from services.bus.streams import EVENTS_STREAM, ensure_streams
from tests.bus.conftest import Certificates

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_server(tmp_path: Path, certificates: Certificates) -> Iterator[NatsServer]:
    tls = ServerTls(certificates.cert_file, certificates.key_file)
    server = NatsServer(store_dir=tmp_path / "nats", tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


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
        assert nc._transport is not None and nc._transport._io_writer is not None
        assert nc._transport._io_writer.get_extra_info("ssl_object") is not None
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
