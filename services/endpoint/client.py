"""For partner developers: send commands and extracts to an organisation's service from Python.

    async with await ServiceClient.connect("nats://127.0.0.1:4222", org="856") as client:
        reply = await client.command("ehc.issue_plan", {"case_id": "856-C-1", ...})
        report = await client.import_file(Path("extract.csv"))

The same requests `sendx command` and `sendx import` make (NATS request-reply, JSON bodies).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from contracts.subjects import command_subject
from runtime.bus.connection import cli_timeout, connect_cli
from runtime.progress import Tick
from services.endpoint.ingest import IMPORT_COMMAND, read_extract


class ServiceUnavailable(ConnectionError):
    """No service answered, or the server refused the request: the message says which."""


@dataclass
class ImportReport:
    """Per-row results in extract order, with the totals `sendx import` prints."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.rows if r["accepted"])

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.rows if r.get("duplicate"))

    @property
    def rejected(self) -> int:
        return sum(1 for r in self.rows if not r["accepted"])

    @property
    def event_ids(self) -> list[str]:
        return [i for r in self.rows for i in r.get("event_ids", [])]

    def summary(self) -> str:
        return (
            f"{len(self.rows)} rows: {self.accepted} accepted "
            f"({self.duplicates} already imported), "
            f"{self.rejected} rejected"
        )


NO_RESPONDERS_GRACE = 2.0
"""Seconds a command keeps being resent while no service subscribes to its subject."""
PAYLOAD_HEADROOM = 4096
"""Bytes kept free under the server's max payload for the request's JSON framing."""


class ServiceClient:
    def __init__(
        self, nc: Client, org: str, *, timeout: float | None = None,
        owns_connection: bool = False,
    ):
        self.nc, self.org, self.timeout = nc, org, cli_timeout(timeout)
        self._owns_connection = owns_connection
        self._refusals: list[str] = []
        self._refused = asyncio.Event()

    @classmethod
    async def connect(
        cls, url: str, org: str, *, timeout: float | None = None,
        credentials: dict[str, str] | None = None, advice: str | None = None,
    ) -> ServiceClient:
        """Connect as the organisation's partner system (`credentials`: its `-client` user;
        default: `SENDX_NATS_USER`/`SENDX_NATS_PASSWORD`, or none on an open server).

        Bounded: `BusUnreachable` within `timeout` (default `cli_timeout()`) when the server
        does not answer or refuses the login (`advice` says what to do then)."""
        refusals: list[str] = []
        refused = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            if "permissions violation" in str(exc).lower():
                refusals.append(str(exc))
                refused.set()

        extra = {"advice": advice} if advice else {}
        nc = await connect_cli(url, name=f"sendx-client-{org}", timeout=timeout,
                               error_cb=on_error, **extra, **(credentials or {}))
        client = cls(nc, org, timeout=timeout, owns_connection=True)
        client._refusals, client._refused = refusals, refused
        return client
    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._owns_connection:
            await self.nc.drain()

    async def request(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """One command's reply. "No responders" is retried for `NO_RESPONDERS_GRACE` seconds:
        the server delivered the request to no one, so resending cannot apply it twice, and a
        service restarting (or re-subscribing after a reconnect) is back within that time.
        A permission violation (this user may not publish there) ends the wait at once."""
        subject = command_subject(self.org, name)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + NO_RESPONDERS_GRACE
        while True:
            try:
                msg = await self._request(subject, orjson.dumps(body))
            except NoRespondersError:
                if loop.time() < give_up:
                    await asyncio.sleep(0.1)
                    continue
                raise ServiceUnavailable(
                    f"no service for organisation {self.org} answers on {subject}: is "
                    f"`sendx service <kind> --org {self.org}` running?"
                ) from None
            except NatsTimeout:
                raise ServiceUnavailable(
                    f"{subject}: no reply within {self.timeout:g} s (the service is busy or "
                    "stopped; --timeout or SENDX_CLI_TIMEOUT sets the wait)"
                ) from None
            return orjson.loads(msg.data)

    async def _request(self, subject: str, data: bytes) -> Any:
        """`nc.request`, cut short by a permission violation the server reports for it."""
        seen = len(self._refusals)
        asking = asyncio.ensure_future(self.nc.request(subject, data, timeout=self.timeout))
        while True:
            self._refused.clear()
            refusal = asyncio.ensure_future(self._refused.wait())
            await asyncio.wait({asking, refusal}, return_when=asyncio.FIRST_COMPLETED)
            refusal.cancel()
            if asking.done():
                return asking.result()
            refused = [r for r in self._refusals[seen:] if subject in r]
            if refused:
                asking.cancel()
                user = self.nc.options.get("user") or "this login"
                raise ServiceUnavailable(
                    f"NATS refused {user} sending to {subject} ({refused[0]}): this user may "
                    f"not send commands to organisation {self.org}; log in as its client "
                    f"(SENDX_NATS_USER=<kind>-{self.org}-client)"
                )

    async def command(
        self, name: str, fields: dict[str, Any], record_id: str | None = None
    ) -> dict[str, Any]:
        """`{"ok": true, "event_ids": [...], "duplicate": false}` or `{"ok": false, "error"}`."""
        body = dict(fields) if record_id is None else {**fields, "record_id": record_id}
        return await self.request(name, body)

    async def import_rows(
        self, rows: Iterable[tuple[int, dict[str, Any] | str]], *, batch_size: int = 200,
        on_progress: Tick | None = None,
    ) -> ImportReport:
        """Send numbered rows in batches that fit the server's max payload; rows that could not
        even be read, or are too large to send at all, are reported here. `on_progress` gets
        the number of rows answered so far after each batch."""
        report = ImportReport()

        async def send(batch: list[tuple[int, dict[str, Any]]]) -> None:
            report.rows.extend(await self._send(batch))
            if on_progress is not None:
                on_progress(len(report.rows))

        limit = self.nc.max_payload - PAYLOAD_HEADROOM
        batch: list[tuple[int, dict[str, Any]]] = []
        size = 0
        for number, row in rows:
            if isinstance(row, str):
                report.rows.append(
                    {"row": number, "record_id": None, "accepted": False, "error": row}
                )
                continue
            row_size = len(orjson.dumps(row)) + 16
            if row_size > limit:
                report.rows.append({
                    "row": number, "record_id": row.get("record_id"), "accepted": False,
                    "error": f"row {number}: {row_size} bytes is more than the bus carries "
                             f"in one message ({limit} bytes); shorten its fields",
                })
                continue
            if batch and (len(batch) >= batch_size or size + row_size > limit):
                await send(batch)
                batch, size = [], 0
            batch.append((number, row))
            size += row_size
        if batch:
            await send(batch)
        report.rows.sort(key=lambda r: r["row"])
        return report

    async def import_file(
        self, path: Path, *, batch_size: int = 200, on_progress: Tick | None = None
    ) -> ImportReport:
        return await self.import_rows(
            read_extract(path), batch_size=batch_size, on_progress=on_progress
        )

    async def _send(self, batch: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        answer = await self.request(
            IMPORT_COMMAND, {"row_numbers": [n for n, _ in batch], "rows": [r for _, r in batch]}
        )
        if not answer.get("ok"):
            return [
                {
                    "row": n,
                    "record_id": r.get("record_id"),
                    "accepted": False,
                    "error": f"row {n}: batch refused: {answer.get('error')}",
                }
                for n, r in batch
            ]
        return list(answer["rows"])
