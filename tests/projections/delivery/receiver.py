"""A real HTTP webhook receiver on 127.0.0.1 for the tests: it can fail, stall and recover.

It verifies every delivery's signature as a partner would (`projections.delivery.signing`)
and keeps the CloudEvents it accepted, in order, with their ids.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from projections.delivery.signing import SIGNATURE_HEADER, BadSignature, verify


class Receiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.mode = "ok"
        """ok (200), fail (503) or stall (answer after `stall_seconds`)."""
        self.stall_seconds = 3.0
        self.accepted: list[dict] = []
        self.refused_signatures: list[str] = []
        self.attempts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.attempts += 1
                    mode = receiver.mode
                if mode == "stall":
                    time.sleep(receiver.stall_seconds)
                if mode in ("fail", "stall"):
                    self._answer(503, b"down for maintenance")
                    return
                try:
                    verify(receiver.secret, self.headers.get(SIGNATURE_HEADER), body, time.time())
                except BadSignature as exc:
                    receiver.refused_signatures.append(str(exc))
                    self._answer(401, str(exc).encode())
                    return
                assert self.headers["Content-Type"] == "application/cloudevents+json"
                with receiver._lock:
                    receiver.accepted.append(orjson.loads(body))
                self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.accepted]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
