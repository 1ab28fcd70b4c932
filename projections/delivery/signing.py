"""The webhook signature: HMAC-SHA256 over the timestamp and the exact body. Pure.

    Sendx-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

The timestamp is signed with the body, so a receiver that refuses a `t` older than a few
minutes cannot be fed a recorded delivery again; comparing in constant time keeps the
signature from leaking byte by byte. (The scheme Stripe and others use; README "Webhooks"
shows how to verify it in Node.js and Python.)
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Sendx-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class BadSignature(ValueError):
    """The signature header is missing, malformed, too old, or does not match the body."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str | None, body: bytes, now: float,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> None:
    """Raise `BadSignature` (saying why) unless `header` signs `body` within `tolerance`."""
    if not header:
        raise BadSignature(f"no {SIGNATURE_HEADER} header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise BadSignature(f"{SIGNATURE_HEADER} must be 't=<unix seconds>,v1=<hex>'") from None
    if abs(now - timestamp) > tolerance:
        raise BadSignature(f"signed at {timestamp}, more than {tolerance:g} s from now")
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise BadSignature("the signature does not match the body")
