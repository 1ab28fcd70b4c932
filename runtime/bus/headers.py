"""Message headers parsed as nats-py parses them, in a third of the time: every process's client.

Why. A rebuild reads every event by batched direct get, and each reply carries seven headers
(`Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Msg-Id`, ...).
nats-py 2.16 (`Client._parse_header_lines`) checks each header name for whitespace one character
at a time in a generator: ~19 µs of the rebuild reader's ~55 µs per event, measured with
cProfile (`bench/findings.md`, "Rebuild (e)"). The same names come again and again, so here a
name is checked once and remembered (a bounded table: names are the sender's to choose), and the
rest is the same split, strip and decode as nats-py's, with the same result for any input (a
property test holds the two to it: `tests/runtime/bus/test_headers.py`).
"""

from __future__ import annotations

from nats.aio.client import Client

NAMES_REMEMBERED = 1_024
"""Header names whose parsed form is kept: a process sees a handful; a hostile sender's
made-up names beyond this are parsed every time, not remembered."""

_names: dict[bytes, str | None] = {}


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """`Client._parse_header_lines(raw)`: `Name: Value` per CRLF line; a line without a colon,
    a name that is not ASCII or has whitespace inside is skipped; values decoded with
    replacement."""
    out: dict[str, str] = {}
    names = _names
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = names.get(name, False)
        if key is False:
            key = _header_name(name)
            if len(names) < NAMES_REMEMBERED:
                names[name] = key
        if key is not None:
            out[key] = value.strip().decode("utf-8", "replace")
    return out


def _header_name(name: bytes) -> str | None:
    try:
        key = name.strip().decode("ascii")
    except UnicodeDecodeError:
        return None
    return None if any(c.isspace() for c in key) else key


class BusClient(Client):
    """nats-py's client with `parse_header_lines`; everything else as nats-py has it."""

    _parse_header_lines = staticmethod(parse_header_lines)
