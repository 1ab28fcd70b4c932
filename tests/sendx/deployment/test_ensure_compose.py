"""`deploy/local/ensure-compose.sh` takes the package from the machine's own Debian mirror and
refuses a download whose SHA256 is not the pinned one."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.bus.nats_server import DEPLOY_DIR

ENSURE = DEPLOY_DIR / "local" / "ensure-compose.sh"
POOL_PATH = "pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        QuietHandler.requests.append(self.path)


@pytest.fixture
def tampered_mirror(tmp_path: Path) -> Iterator[str]:
    """A Debian mirror on loopback serving a .deb that is not the pinned one."""
    root = tmp_path / "mirror"
    (root / "debian" / POOL_PATH).parent.mkdir(parents=True)
    (root / "debian" / POOL_PATH).write_bytes(b"!<arch>\nnot the real package\n")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/debian"
    finally:
        server.shutdown()
        thread.join(5)


def run_ensure(tmp_path: Path, apt: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENSURE)], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "SENDX_TOOLS_DIR": str(tmp_path / "tools"),
             "SENDX_APT_SOURCES": str(apt)},
    )


def test_a_download_with_the_wrong_checksum_is_refused_and_nothing_installed(
    tmp_path: Path, tampered_mirror: str
) -> None:
    # given apt sources (deb822) naming a mirror that serves a tampered package
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        f"Types: deb\nURIs: {tampered_mirror}\nSuites: trixie\nComponents: main\n"
    )
    # when the script runs with no compose installed
    ran = run_ensure(tmp_path, apt)
    # then it fetched the pinned pool path from that mirror, refused it, and installed nothing
    assert ran.returncode == 1
    assert f"/debian/{POOL_PATH}" in QuietHandler.requests
    assert "SHA256 mismatch" in ran.stderr and "not using it" in ran.stderr
    assert not (tmp_path / "tools" / "docker-compose").exists()


def test_mirrors_come_from_one_line_sources_too_main_archive_before_security(
    tmp_path: Path, tampered_mirror: str
) -> None:
    # given a classic sources.list: a security archive first, then the main one
    apt = tmp_path / "apt"
    apt.mkdir()
    (apt / "sources.list").write_text(
        "deb http://127.0.0.1:9/debian-security bookworm-security main\n"
        f"deb [arch=amd64] {tampered_mirror} bookworm main\n"
    )
    ran = run_ensure(tmp_path, apt)
    # then the main archive is tried first (the pool file lives there), the security one after
    tried = ran.stderr.split("(tried: ", 1)[1].split(")", 1)[0]
    assert tried.split() == [tampered_mirror, "http://127.0.0.1:9/debian-security"]
    assert ran.returncode == 1
